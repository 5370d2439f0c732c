package sim

import (
	"image"
	"math"
)

// canvas is a thin layer over *image.RGBA with alpha-blended primitives.
// Coordinates are pixels; shapes are filled with anti-aliasing only where
// it is cheap (ellipse edges), which is enough for a simulated picture.
type canvas struct {
	img  *image.RGBA
	w, h int
}

func newCanvas(w, h int) *canvas {
	return &canvas{img: image.NewRGBA(image.Rect(0, 0, w, h)), w: w, h: h}
}

type rgb struct{ r, g, b float64 }

func (c rgb) mix(o rgb, t float64) rgb {
	return rgb{c.r + (o.r-c.r)*t, c.g + (o.g-c.g)*t, c.b + (o.b-c.b)*t}
}

func (c rgb) scale(f float64) rgb { return rgb{c.r * f, c.g * f, c.b * f} }

func (c rgb) tint(t rgb) rgb { return rgb{c.r * t.r / 255, c.g * t.g / 255, c.b * t.b / 255} }

func clamp8(v float64) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// blend mixes col into pixel (x, y) with opacity a in [0, 1].
func (c *canvas) blend(x, y int, col rgb, a float64) {
	if x < 0 || y < 0 || x >= c.w || y >= c.h || a <= 0 {
		return
	}
	i := y*c.img.Stride + x*4
	p := c.img.Pix[i : i+4 : i+4]
	if a >= 1 {
		p[0], p[1], p[2], p[3] = clamp8(col.r), clamp8(col.g), clamp8(col.b), 255
		return
	}
	p[0] = clamp8(float64(p[0]) + (col.r-float64(p[0]))*a)
	p[1] = clamp8(float64(p[1]) + (col.g-float64(p[1]))*a)
	p[2] = clamp8(float64(p[2]) + (col.b-float64(p[2]))*a)
	p[3] = 255
}

// vgradient fills rows [y0, y1) with a vertical gradient from top to bottom.
func (c *canvas) vgradient(y0, y1 int, top, bottom rgb) {
	y0, y1 = max(y0, 0), min(y1, c.h)
	for y := y0; y < y1; y++ {
		t := 0.0
		if y1-y0 > 1 {
			t = float64(y-y0) / float64(y1-y0-1)
		}
		col := top.mix(bottom, t)
		r, g, b := clamp8(col.r), clamp8(col.g), clamp8(col.b)
		row := c.img.Pix[y*c.img.Stride : y*c.img.Stride+c.w*4]
		for x := 0; x < len(row); x += 4 {
			row[x], row[x+1], row[x+2], row[x+3] = r, g, b, 255
		}
	}
}

type pt struct{ x, y float64 }

// polygon fills a polygon (even-odd rule) with col at opacity a, calling
// shade(x, y) per pixel when given to vary the colour.
func (c *canvas) polygon(ps []pt, col rgb, a float64, shade func(x, y int, base rgb) rgb) {
	if len(ps) < 3 {
		return
	}
	minY, maxY := math.Inf(1), math.Inf(-1)
	for _, p := range ps {
		minY, maxY = math.Min(minY, p.y), math.Max(maxY, p.y)
	}
	y0, y1 := max(int(math.Floor(minY)), 0), min(int(math.Ceil(maxY)), c.h-1)
	xs := make([]float64, 0, 8)
	for y := y0; y <= y1; y++ {
		fy := float64(y) + 0.5
		xs = xs[:0]
		for i := range ps {
			a, b := ps[i], ps[(i+1)%len(ps)]
			if (a.y <= fy && b.y > fy) || (b.y <= fy && a.y > fy) {
				xs = append(xs, a.x+(fy-a.y)*(b.x-a.x)/(b.y-a.y))
			}
		}
		sortFloats(xs)
		for i := 0; i+1 < len(xs); i += 2 {
			xa, xb := max(int(math.Ceil(xs[i]-0.5)), 0), min(int(math.Floor(xs[i+1]-0.5)), c.w-1)
			for x := xa; x <= xb; x++ {
				cc := col
				if shade != nil {
					cc = shade(x, y, col)
				}
				c.blend(x, y, cc, a)
			}
		}
	}
}

func sortFloats(v []float64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// ellipse fills an ellipse with a soft edge of soft pixels (0 = hard).
func (c *canvas) ellipse(cx, cy, rx, ry float64, col rgb, a, soft float64) {
	if rx <= 0 || ry <= 0 {
		return
	}
	sr := soft / math.Min(rx, ry)
	outer, inner := 1+sr, 1-sr
	outer2, inner2 := outer*outer, inner*inner
	if inner < 0 {
		inner2 = 0
	}
	y0, y1 := max(int(cy-ry*outer), 0), min(int(cy+ry*outer)+1, c.h-1)
	for y := y0; y <= y1; y++ {
		dy := (float64(y) + 0.5 - cy) / ry
		rest := outer2 - dy*dy
		if rest <= 0 {
			continue
		}
		// Only the span of x inside the outer ellipse on this row.
		span := math.Sqrt(rest) * rx
		x0, x1 := max(int(cx-span), 0), min(int(cx+span)+1, c.w-1)
		for x := x0; x <= x1; x++ {
			dx := (float64(x) + 0.5 - cx) / rx
			d2 := dx*dx + dy*dy
			if d2 >= outer2 {
				continue
			}
			k := a
			if sr > 0 && d2 > inner2 {
				k *= (outer - math.Sqrt(d2)) / (2 * sr)
			}
			c.blend(x, y, col, k)
		}
	}
}

// glow adds a radial light: opacity a at the centre falling to 0 at r.
func (c *canvas) glow(cx, cy, r float64, col rgb, a float64) {
	y0, y1 := max(int(cy-r), 0), min(int(cy+r)+1, c.h-1)
	for y := y0; y <= y1; y++ {
		dy := float64(y) - cy
		rest := r*r - dy*dy
		if rest <= 0 {
			continue
		}
		span := math.Sqrt(rest)
		x0, x1 := max(int(cx-span), 0), min(int(cx+span)+1, c.w-1)
		for x := x0; x <= x1; x++ {
			dx := float64(x) - cx
			d := math.Sqrt(dx*dx+dy*dy) / r
			if d < 1 {
				f := (1 - d) * (1 - d)
				c.blend(x, y, col, a*f)
			}
		}
	}
}

func (c *canvas) rect(x0, y0, x1, y1 float64, col rgb, a float64) {
	c.polygon([]pt{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}, col, a, nil)
}

// line draws a thick straight line.
func (c *canvas) line(x0, y0, x1, y1, width float64, col rgb, a float64) {
	dx, dy := x1-x0, y1-y0
	l := math.Hypot(dx, dy)
	if l == 0 {
		return
	}
	nx, ny := -dy/l*width/2, dx/l*width/2
	c.polygon([]pt{{x0 + nx, y0 + ny}, {x1 + nx, y1 + ny}, {x1 - nx, y1 - ny}, {x0 - nx, y0 - ny}}, col, a, nil)
}
