package sim

import (
	"hash/fnv"
	"image"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/ludeng/ludeng/internal/provider"
)

// layout is the place itself: what a group's four variants share.
type layout struct {
	horizon     float64 // world y of the horizon
	terrain     string
	vanishX     float64 // world x where the road meets the horizon
	nearL       float64 // world x of the road's near left edge (at y = 1.3)
	nearR       float64
	curve       float64 // lateral bend of the road
	productX    float64 // world x of the product's foot
	productY    float64 // world y of the product's foot
	productSize float64 // product height in world units
	peaks       []pt    // mountain/hill silhouette control points (world)
	peaks2      []pt
	trees       []tree
	things      []thing
	buildings   []building
	water       bool
}

type tree struct {
	x, y, size float64
	kind       int
}

type thing struct {
	kind string
	x, y float64
	dir  float64 // +1 faces right, -1 left
}

type building struct {
	x, w, hgt float64
	roof      int
}

// camera is how a variant frames the place: mirrored, zoomed, shifted.
// Different framings per variant keep the four pictures of a group apart
// for perceptual hashing, which is blind to global brightness changes.
type camera struct {
	mirror bool
	zoom   float64
	dx, dy float64
}

var variantCameras = [4]camera{
	{mirror: false, zoom: 1.0, dx: 0, dy: 0},
	{mirror: true, zoom: 1.12, dx: 0.05, dy: -0.06},
	{mirror: false, zoom: 1.35, dx: 0.14, dy: 0.08},
	{mirror: true, zoom: 1.22, dx: -0.12, dy: 0.1},
}

// groupCamera shifts a variant's framing by an amount fixed per group, so
// that the same variant (say, the night) of two groups is framed
// differently even when their places look alike; the four variants of one
// group keep their relative differences.
func groupCamera(groupKey string, c camera) camera {
	h := hash64("camera", groupKey)
	c.mirror = c.mirror != (h&1 == 1)
	c.zoom *= 1 + float64((h>>1)%13)/100
	c.dx += (float64((h>>8)%17) - 8) / 100
	c.dy += (float64((h>>16)%11) - 5) / 100
	return c
}

func variantIndex(s provider.Scene) int {
	switch {
	case s.TimeOfDay == night:
		return 3
	case s.Weather == overcast || s.TimeOfDay == noon:
		return 2
	case s.TimeOfDay == evening:
		return 1
	}
	return 0
}

func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func groupKey(s provider.Scene) string {
	if s.Key != "" {
		return s.Key
	}
	return strings.Join([]string{s.Road, s.Season, itoa(s.Month), s.Terrain, strings.Join(s.Elements, ","), s.Caption}, "|")
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return string(rune('0'+n/10)) + string(rune('0'+n%10))
}

func newLayout(s provider.Scene, rng *rand.Rand) layout {
	l := layout{terrain: s.Terrain}
	if l.terrain == "" {
		l.terrain = []string{"plain", "mountain", "hills", "town", "water", "forest"}[rng.IntN(6)]
	}
	// Discrete horizon bands spread the layouts of different groups apart.
	l.horizon = []float64{0.3, 0.38, 0.46, 0.54, 0.6}[rng.IntN(5)] + rng.Float64()*0.04
	l.vanishX = 0.2 + rng.Float64()*0.6
	centre := 0.5 + (rng.Float64()-0.5)*0.9
	half := 0.25 + rng.Float64()*0.35
	l.nearL, l.nearR = centre-half, centre+half
	l.curve = (rng.Float64() - 0.5) * 0.5
	// The product stands beside the road, on the side with more room.
	side := 1.0
	if centre > 0.5 {
		side = -1
	}
	l.productY = 0.78 + rng.Float64()*0.12
	roadAt := l.vanishX + (centre-l.vanishX)*((l.productY-l.horizon)/(1.3-l.horizon))
	halfAt := 0.01 + half*((l.productY-l.horizon)/(1.3-l.horizon))
	l.productX = roadAt + side*(halfAt+0.08+rng.Float64()*0.08)
	l.productX = math.Max(0.16, math.Min(0.84, l.productX))
	l.productSize = 0.4 + rng.Float64()*0.16

	ridge := func(base, amp float64, n int) []pt {
		ps := []pt{{-0.4, l.horizon + 0.01}}
		for i := 0; i <= n; i++ {
			x := -0.4 + 1.8*float64(i)/float64(n)
			ps = append(ps, pt{x, base - amp*(0.3+0.7*rng.Float64())})
		}
		return append(ps, pt{1.4, l.horizon + 0.01})
	}
	switch l.terrain {
	case "mountain":
		l.peaks = ridge(l.horizon, 0.22+rng.Float64()*0.12, 4+rng.IntN(4))
		l.peaks2 = ridge(l.horizon, 0.12, 7+rng.IntN(5))
	case "hills":
		l.peaks = ridge(l.horizon, 0.09, 3+rng.IntN(3))
	case "town":
		x := -0.3
		for x < 1.3 {
			b := building{x: x, w: 0.06 + rng.Float64()*0.12, hgt: 0.05 + rng.Float64()*0.16, roof: rng.IntN(3)}
			l.buildings = append(l.buildings, b)
			x += b.w + rng.Float64()*0.05
		}
	case "water":
		l.water = true
		l.peaks = ridge(l.horizon-0.02, 0.06, 4)
	case "forest":
		l.peaks2 = ridge(l.horizon, 0.05, 12)
	}
	nt := 3 + rng.IntN(8)
	if l.terrain == "forest" {
		nt += 10
	}
	for range nt {
		t := tree{x: -0.2 + rng.Float64()*1.4, y: l.horizon + 0.02 + rng.Float64()*(0.95-l.horizon), kind: rng.IntN(3)}
		t.size = 0.05 + 0.3*(t.y-l.horizon)/(1-l.horizon)
		if math.Abs(t.x-l.productX) < 0.12 && t.y > l.productY-0.1 {
			continue // keep the product clear
		}
		l.trees = append(l.trees, t)
	}
	for _, el := range s.Elements {
		n := 1 + rng.IntN(2)
		for range n {
			th := thing{kind: el, x: 0.05 + rng.Float64()*0.9, y: l.horizon + 0.08 + rng.Float64()*(0.92-l.horizon-0.08), dir: 1}
			if rng.IntN(2) == 0 {
				th.dir = -1
			}
			if math.Abs(th.x-l.productX) < 0.1 {
				th.x = math.Mod(th.x+0.35, 1)
			}
			l.things = append(l.things, th)
		}
	}
	return l
}

// light is the time/weather palette.
type light struct {
	skyTop, skyBottom rgb
	ground            float64 // brightness multiplier for everything on the ground
	tint              rgb     // colour multiplier (255 = neutral)
	sun               bool
	sunX, sunY        float64 // screen fractions
	sunCol            rgb
	shadowDir         float64 // +1 shadows fall right, -1 left, 0 short
	haze              float64
	clouds            int
	cloudCol          rgb
	stars, lamp       bool
}

func newLight(s provider.Scene) light {
	l := light{ground: 1, tint: rgb{255, 255, 255}, cloudCol: rgb{250, 250, 252}}
	switch s.TimeOfDay {
	case morning:
		l.skyTop, l.skyBottom = rgb{105, 165, 230}, rgb{252, 214, 165}
		l.tint, l.ground = rgb{255, 240, 215}, 0.95
		l.sun, l.sunX, l.sunY, l.sunCol, l.shadowDir = true, 0.18, 0.3, rgb{255, 244, 210}, 1
		l.clouds = 3
	case evening:
		l.skyTop, l.skyBottom = rgb{55, 60, 130}, rgb{250, 130, 60}
		l.tint, l.ground = rgb{255, 190, 140}, 0.62
		l.sun, l.sunX, l.sunY, l.sunCol, l.shadowDir = true, 0.8, 0.4, rgb{255, 170, 80}, -1
		l.clouds, l.cloudCol = 4, rgb{250, 160, 120}
	case night:
		l.skyTop, l.skyBottom = rgb{6, 10, 30}, rgb{45, 52, 95}
		l.tint, l.ground = rgb{150, 170, 230}, 0.32
		l.stars, l.lamp = true, true
	default: // noon
		l.skyTop, l.skyBottom = rgb{60, 130, 225}, rgb{175, 210, 245}
		l.sun, l.sunX, l.sunY, l.sunCol = true, 0.62, 0.07, rgb{255, 255, 240}
		l.clouds = 5
	}
	switch s.Weather {
	case overcast:
		l.skyTop, l.skyBottom = l.skyTop.mix(rgb{140, 145, 152}, 0.85), l.skyBottom.mix(rgb{200, 202, 205}, 0.85)
		l.ground *= 0.78
		l.tint = l.tint.mix(rgb{235, 238, 242}, 0.7)
		l.sun, l.shadowDir, l.haze = false, 0, 0.25
		l.clouds, l.cloudCol = 14, rgb{120, 124, 130}
	case rain:
		l.skyTop, l.skyBottom = l.skyTop.mix(rgb{70, 75, 85}, 0.7), l.skyBottom.mix(rgb{120, 125, 135}, 0.7)
		l.ground *= 0.7
		l.sun, l.shadowDir, l.haze, l.stars = false, 0, 0.3, false
		l.clouds, l.cloudCol = 10, l.skyTop.scale(0.8)
	case snow:
		l.skyTop, l.skyBottom = l.skyTop.mix(rgb{175, 180, 190}, 0.7), l.skyBottom.mix(rgb{225, 228, 235}, 0.7)
		l.ground *= 0.9
		l.sun, l.shadowDir, l.haze, l.stars = false, 0, 0.35, false
		l.clouds, l.cloudCol = 8, rgb{210, 212, 218}
	case frost:
		// Clear, still and cold: a deep clear sky (stars at night), a cold
		// blue-white cast, no clouds; the frosted ground is paler than bare
		// earth but darker than snow.
		l.skyTop, l.skyBottom = l.skyTop.mix(rgb{20, 40, 90}, 0.3), l.skyBottom.mix(rgb{170, 190, 225}, 0.35)
		l.tint = l.tint.mix(rgb{215, 228, 255}, 0.6)
		l.ground *= 0.85
		l.haze, l.clouds = 0.08, 0
	}
	return l
}

func (l light) apply(c rgb) rgb { return c.tint(l.tint).scale(l.ground) }

// renderer draws one picture.
type renderer struct {
	c     *canvas
	s     provider.Scene
	lay   layout
	cam   camera
	lt    light
	rng   *rand.Rand
	w, h  float64
	horiz float64 // screen y of the horizon
}

// tr maps world coordinates to screen pixels through the camera.
func (r *renderer) tr(p pt) pt {
	u := p.x
	if r.cam.mirror {
		u = 1 - u
	}
	x := ((u-0.5-r.cam.dx)*r.cam.zoom + 0.5) * r.w
	y := ((p.y-0.5-r.cam.dy)*r.cam.zoom + 0.5) * r.h
	return pt{x, y}
}

func (r *renderer) trs(ps []pt) []pt {
	out := make([]pt, len(ps))
	for i, p := range ps {
		out[i] = r.tr(p)
	}
	return out
}

// unit is one world unit in pixels (by height) at the current zoom.
func (r *renderer) unit() float64 { return r.h * r.cam.zoom }

// render draws scene s with product photo (may be nil) at w×h.
func render(s provider.Scene, product image.Image, w, h int, prompt string) *image.RGBA {
	gk := groupKey(s)
	vi := variantIndex(s)
	r := &renderer{
		c: newCanvas(w, h), s: s, cam: groupCamera(gk, variantCameras[vi]), lt: newLight(s),
		w: float64(w), h: float64(h),
	}
	r.lay = newLayout(s, rand.New(rand.NewPCG(hash64(gk), 1)))
	// Keep the whole product in frame: move the camera up if its top would
	// be cut off (zoomed variants).
	if top := r.tr(pt{r.lay.productX, r.lay.productY - r.lay.productSize*1.1}).y; top < r.h*0.08 {
		r.cam.dy -= (r.h*0.08 - top) / r.h / r.cam.zoom
	}
	seed := hash64(gk, s.TimeOfDay, s.Weather, prompt)
	if s.Seed != 0 {
		// A regenerated image: same place and light, a new draw of the details.
		seed = hash64(gk, s.TimeOfDay, s.Weather, prompt, strconv.FormatInt(s.Seed, 10))
	}
	r.rng = rand.New(rand.NewPCG(seed, 2))
	r.horiz = r.tr(pt{0, r.lay.horizon}).y

	r.sky()
	r.terrain()
	r.ground()
	r.road()
	r.scenery()
	r.product(product)
	r.weather()
	r.caption()
	return r.c.img
}

func (r *renderer) sky() {
	hy := int(math.Ceil(r.horiz)) + 1
	r.c.vgradient(0, hy, r.lt.skyTop, r.lt.skyBottom)
	if r.lt.stars {
		for range 160 {
			x, y := r.rng.Float64()*r.w, r.rng.Float64()*r.horiz
			r.c.ellipse(x, y, 1.2, 1.2, rgb{240, 240, 255}, 0.5+r.rng.Float64()*0.5, 0)
		}
		if r.s.Weather != rain && r.s.Weather != overcast {
			mx, my := r.w*(0.2+0.6*r.rng.Float64()), r.horiz*0.25
			r.c.glow(mx, my, r.h*0.12, rgb{200, 210, 255}, 0.35)
			r.c.ellipse(mx, my, r.h*0.035, r.h*0.035, rgb{245, 245, 230}, 1, 1.5)
		}
	}
	if r.lt.sun {
		sx, sy := r.lt.sunX*r.w, math.Min(r.lt.sunY*r.h, r.horiz-r.h*0.04)
		r.c.glow(sx, sy, r.h*0.35, r.lt.sunCol, 0.55)
		r.c.ellipse(sx, sy, r.h*0.045, r.h*0.045, rgb{255, 252, 235}, 1, 2)
	}
	for range r.lt.clouds {
		cx, cy := r.rng.Float64()*r.w, r.rng.Float64()*r.horiz*0.8
		sz := r.h * (0.04 + r.rng.Float64()*0.06)
		for k := range 5 {
			r.c.ellipse(cx+float64(k-2)*sz*0.9, cy+math.Sin(float64(k))*sz*0.25, sz*1.3, sz*0.6,
				r.lt.cloudCol, 0.55, sz*0.4)
		}
	}
}

func (r *renderer) terrain() {
	far := r.lt.apply(rgb{110, 125, 150}).mix(r.lt.skyBottom, 0.35)
	near := r.lt.apply(rgb{70, 95, 80})
	if r.snowy() {
		far, near = r.lt.apply(rgb{215, 220, 232}), r.lt.apply(rgb{190, 198, 210})
	}
	if len(r.lay.peaks) > 0 {
		r.c.polygon(r.trs(r.lay.peaks), far, 1, nil)
	}
	if len(r.lay.peaks2) > 0 {
		r.c.polygon(r.trs(r.lay.peaks2), near, 1, nil)
	}
	for _, b := range r.lay.buildings {
		wall := r.lt.apply([]rgb{{200, 190, 175}, {175, 160, 150}, {215, 210, 200}}[b.roof])
		top := r.lay.horizon - b.hgt
		r.c.polygon(r.trs([]pt{{b.x, top}, {b.x + b.w, top}, {b.x + b.w, r.lay.horizon + 0.01}, {b.x, r.lay.horizon + 0.01}}), wall, 1, nil)
		roof := r.lt.apply(rgb{90, 60, 50})
		if b.roof == 1 {
			roof = r.lt.apply(rgb{60, 70, 90})
		}
		r.c.polygon(r.trs([]pt{{b.x - 0.01, top}, {b.x + b.w/2, top - 0.04}, {b.x + b.w + 0.01, top}}), roof, 1, nil)
		if r.lt.lamp { // lit windows at night
			for k := range 3 {
				wx := b.x + b.w*(0.2+0.3*float64(k))
				p := r.tr(pt{wx, top + b.hgt*0.35})
				r.c.rect(p.x, p.y, p.x+r.unit()*0.012, p.y+r.unit()*0.015, rgb{255, 210, 120}, 0.9)
			}
		}
	}
}

func (r *renderer) snowy() bool {
	return r.s.Weather == snow || (r.s.Season == "winter" && (r.s.Month == 12 || r.s.Month == 1 || r.s.Month == 2) && r.lay.terrain == "mountain")
}

func (r *renderer) fieldColor() (rgb, rgb) {
	switch {
	case r.snowy():
		return rgb{236, 240, 246}, rgb{214, 220, 230}
	case r.s.Weather == frost:
		// Hoarfrost on dry ground: pale and grey-blue, not snow white.
		return rgb{196, 204, 214}, rgb{160, 165, 172}
	case r.s.Season == "spring":
		return rgb{150, 195, 110}, rgb{110, 165, 80}
	case r.s.Season == "autumn":
		return rgb{215, 175, 90}, rgb{185, 135, 60}
	case r.s.Season == "winter":
		return rgb{165, 145, 115}, rgb{130, 110, 85}
	}
	return rgb{95, 160, 75}, rgb{50, 115, 45}
}

func (r *renderer) ground() {
	farC, nearC := r.fieldColor()
	y0 := int(r.horiz)
	if r.lay.water {
		// A band of water below the horizon mirrors the sky.
		wy := r.tr(pt{0, r.lay.horizon + 0.07}).y
		for y := max(y0, 0); y < min(int(wy), r.c.h); y++ {
			t := float64(y-y0) / math.Max(1, wy-float64(y0))
			col := r.lt.skyBottom.mix(r.lt.skyTop, t*0.6).scale(0.85)
			for x := 0; x < r.c.w; x++ {
				if (x/7+y/3)%11 == 0 {
					r.c.blend(x, y, col.scale(1.15), 1)
				} else {
					r.c.blend(x, y, col, 1)
				}
			}
		}
		y0 = int(wy)
	}
	for y := max(y0, 0); y < r.c.h; y++ {
		t := float64(y-y0) / math.Max(1, r.h-float64(y0))
		col := r.lt.apply(farC.mix(nearC, t))
		for x := 0; x < r.c.w; x++ {
			r.c.blend(x, y, col, 1)
		}
	}
	// Furrows or crop rows converge on the vanishing point.
	if r.lay.terrain == "plain" || r.lay.terrain == "hills" || containsStr(r.s.Elements, "farm_work") {
		v := pt{r.lay.vanishX, r.lay.horizon}
		row := r.lt.apply(nearC.scale(0.75))
		if r.snowy() {
			row = r.lt.apply(rgb{190, 195, 205})
		}
		for k := -14; k <= 14; k++ {
			a, b := r.tr(v), r.tr(pt{r.lay.vanishX + float64(k)*0.18, 1.35})
			r.c.line(a.x, a.y+2, b.x, b.y, r.unit()*0.006, row, 0.55)
		}
	}
}

// roadPoint returns the road centre and half-width at parameter t (0 far, 1 near).
func (r *renderer) roadPoint(t float64) (centre pt, half float64) {
	l := r.lay
	nearC := (l.nearL + l.nearR) / 2
	y := l.horizon + 0.005 + (1.3-l.horizon)*t
	x := l.vanishX + (nearC-l.vanishX)*t + l.curve*math.Sin(math.Pi*t)*0.5
	return pt{x, y}, 0.006 + (l.nearR-l.nearL)/2*t
}

func (r *renderer) road() {
	const n = 24
	var left, right []pt
	for i := 0; i <= n; i++ {
		c, hw := r.roadPoint(float64(i) / n)
		left = append(left, pt{c.x - hw, c.y})
		right = append(right, pt{c.x + hw, c.y})
	}
	poly := append([]pt{}, left...)
	for i := len(right) - 1; i >= 0; i-- {
		poly = append(poly, right[i])
	}
	base := map[string]rgb{"dirt": {150, 112, 78}, "cement": {190, 190, 185}, "asphalt": {62, 62, 68}, "flagstone": {150, 142, 128}}[r.s.Road]
	if base == (rgb{}) {
		base = rgb{190, 190, 185}
	}
	if r.s.Weather == snow {
		base = base.mix(rgb{230, 232, 238}, 0.6)
	}
	col := r.lt.apply(base)
	seed := uint32(r.rng.Uint64())
	r.c.polygon(r.trs(poly), col, 1, func(x, y int, b rgb) rgb {
		// Cheap per-pixel grain so the surface is not flat.
		h := uint32(x)*73856093 ^ uint32(y)*19349663 ^ seed
		h ^= h >> 13
		f := 0.92 + float64(h%17)/100
		return b.scale(f)
	})
	if r.s.Weather == rain {
		// Wet roads reflect the sky.
		r.c.polygon(r.trs(poly), r.lt.skyBottom, 0.25, nil)
	}
	mark := func(t0, t1, off, width float64, c rgb, a float64) {
		c0, h0 := r.roadPoint(t0)
		c1, h1 := r.roadPoint(t1)
		p0, p1 := r.tr(pt{c0.x + off*h0, c0.y}), r.tr(pt{c1.x + off*h1, c1.y})
		r.c.line(p0.x, p0.y, p1.x, p1.y, math.Max(1, width*r.unit()*(t0+t1)/2), c, a)
	}
	switch r.s.Road {
	case "dirt":
		for _, off := range []float64{-0.45, 0.45} {
			for i := range n {
				mark(float64(i)/n, float64(i+1)/n, off, 0.03, col.scale(0.7), 0.7)
			}
		}
		for range 60 {
			t := 0.15 + r.rng.Float64()*0.85
			c, hw := r.roadPoint(t)
			p := r.tr(pt{c.x + (r.rng.Float64()*2-1)*hw, c.y})
			r.c.ellipse(p.x, p.y, r.unit()*0.008*t, r.unit()*0.004*t, col.scale(0.6), 0.8, 0)
		}
	case "cement":
		for i := 1; i < 16; i++ {
			t := math.Pow(float64(i)/16, 1.3)
			a, _ := r.roadPoint(t)
			_, hw := r.roadPoint(t)
			p0, p1 := r.tr(pt{a.x - hw, a.y}), r.tr(pt{a.x + hw, a.y})
			r.c.line(p0.x, p0.y, p1.x, p1.y, math.Max(1, r.unit()*0.004*t), col.scale(0.72), 0.9)
		}
		for i := range n {
			mark(float64(i)/n, float64(i+1)/n, 0, 0.004, col.scale(0.75), 0.8)
		}
	case "asphalt":
		for i := 0; i < n; i += 2 {
			mark(float64(i)/n, float64(i+1)/n, 0, 0.012, r.lt.apply(rgb{240, 200, 60}), 0.95)
		}
		for _, off := range []float64{-0.93, 0.93} {
			for i := range n {
				mark(float64(i)/n, float64(i+1)/n, off, 0.01, r.lt.apply(rgb{235, 235, 235}), 0.9)
			}
		}
	case "flagstone":
		for i := 1; i < 22; i++ {
			t := math.Pow(float64(i)/22, 1.2)
			a, hw := r.roadPoint(t)
			p0, p1 := r.tr(pt{a.x - hw, a.y}), r.tr(pt{a.x + hw, a.y})
			r.c.line(p0.x, p0.y, p1.x, p1.y, math.Max(1, r.unit()*0.005*t), col.scale(0.55), 0.9)
		}
		for _, off := range []float64{-0.66, -0.33, 0, 0.33, 0.66} {
			for i := range n {
				mark(float64(i)/n, float64(i+1)/n, off, 0.005, col.scale(0.55), 0.9)
			}
		}
	}
}

func containsStr(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// scenery draws trees and scene elements, far to near.
func (r *renderer) scenery() {
	type item struct {
		y    float64
		draw func()
	}
	var items []item
	for _, t := range r.lay.trees {
		items = append(items, item{t.y, func() { r.tree(t) }})
	}
	for _, th := range r.lay.things {
		items = append(items, item{th.y, func() { r.thing(th) }})
	}
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && items[j].y < items[j-1].y; j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
	for _, it := range items {
		it.draw()
	}
}

func (r *renderer) tree(t tree) {
	leaf := map[string]rgb{"spring": {120, 180, 90}, "summer": {40, 105, 45}, "autumn": {200, 120, 40}, "winter": {110, 95, 80}}[r.s.Season]
	if r.snowy() {
		leaf = rgb{225, 230, 238}
	}
	leaf, trunk := r.lt.apply(leaf), r.lt.apply(rgb{90, 65, 45})
	base := r.tr(pt{t.x, t.y})
	s := t.size * r.unit()
	r.c.rect(base.x-s*0.05, base.y-s*0.45, base.x+s*0.05, base.y, trunk, 1)
	switch t.kind {
	case 0: // poplar
		r.c.ellipse(base.x, base.y-s*0.75, s*0.16, s*0.42, leaf, 1, 1)
	case 1: // pine
		r.c.polygon([]pt{{base.x - s*0.25, base.y - s*0.3}, {base.x, base.y - s*1.1}, {base.x + s*0.25, base.y - s*0.3}}, leaf.scale(0.85), 1, nil)
	default: // broadleaf
		r.c.ellipse(base.x, base.y-s*0.62, s*0.32, s*0.26, leaf, 1, 1)
	}
}

func (r *renderer) thing(th thing) {
	base := r.tr(pt{th.x, th.y})
	depth := (th.y - r.lay.horizon) / (1 - r.lay.horizon)
	s := (0.05 + 0.16*depth) * r.unit()
	dir := th.dir
	if r.cam.mirror {
		dir = -dir
	}
	dark := r.lt.apply(rgb{55, 50, 60})
	switch th.kind {
	case "people", "farm_work":
		cloth := r.lt.apply([]rgb{{180, 40, 40}, {40, 70, 160}, {60, 120, 70}}[int(th.x*10)%3])
		r.c.rect(base.x-s*0.06, base.y-s*0.35, base.x+s*0.06, base.y, dark, 1)
		r.c.rect(base.x-s*0.09, base.y-s*0.75, base.x+s*0.09, base.y-s*0.33, cloth, 1)
		r.c.ellipse(base.x, base.y-s*0.86, s*0.09, s*0.1, r.lt.apply(rgb{210, 170, 140}), 1, 1)
		if th.kind == "farm_work" {
			r.c.line(base.x+dir*s*0.08, base.y-s*0.6, base.x+dir*s*0.4, base.y, s*0.03, r.lt.apply(rgb{120, 90, 50}), 1)
		}
	case "vehicles":
		body := r.lt.apply([]rgb{{200, 200, 205}, {160, 30, 30}, {30, 60, 120}}[int(th.x*10)%3])
		r.c.rect(base.x-s*0.5, base.y-s*0.3, base.x+s*0.5, base.y-s*0.08, body, 1)
		r.c.rect(base.x-s*0.25, base.y-s*0.5, base.x+s*0.25, base.y-s*0.28, body.scale(0.85), 1)
		r.c.ellipse(base.x-s*0.3, base.y-s*0.06, s*0.09, s*0.09, dark, 1, 1)
		r.c.ellipse(base.x+s*0.3, base.y-s*0.06, s*0.09, s*0.09, dark, 1, 1)
		if r.lt.lamp {
			r.c.glow(base.x+dir*s*0.5, base.y-s*0.2, s*0.6, rgb{255, 240, 200}, 0.6)
		}
	case "tricycle":
		box := r.lt.apply(rgb{40, 90, 160})
		r.c.rect(base.x-s*0.35*dir, base.y-s*0.35, base.x+s*0.05*dir, base.y-s*0.12, box, 1)
		r.c.line(base.x+s*0.05*dir, base.y-s*0.2, base.x+s*0.3*dir, base.y-s*0.45, s*0.03, dark, 1)
		for _, wx := range []float64{-0.3, -0.05, 0.3} {
			r.c.ellipse(base.x+wx*dir*s, base.y-s*0.06, s*0.07, s*0.07, dark, 1, 1)
		}
		r.c.rect(base.x+s*0.15*dir-s*0.05, base.y-s*0.6, base.x+s*0.15*dir+s*0.05, base.y-s*0.3, r.lt.apply(rgb{170, 50, 40}), 1)
	default: // animals
		fur := r.lt.apply([]rgb{{120, 80, 50}, {235, 232, 220}, {60, 55, 50}}[int(th.x*10)%3])
		r.c.ellipse(base.x, base.y-s*0.22, s*0.24, s*0.12, fur, 1, 1)
		r.c.ellipse(base.x+dir*s*0.26, base.y-s*0.3, s*0.07, s*0.06, fur, 1, 1)
		for _, lx := range []float64{-0.15, -0.05, 0.06, 0.16} {
			r.c.rect(base.x+lx*s-s*0.015, base.y-s*0.14, base.x+lx*s+s*0.015, base.y, fur.scale(0.8), 1)
		}
	}
}

// product pastes the product (or a drawn street light) standing on the
// ground with a shadow cast away from the sun, and a lamp glow at night.
func (r *renderer) product(photo image.Image) {
	foot := r.tr(pt{r.lay.productX, r.lay.productY})
	ph := r.lay.productSize * r.unit()
	var pw float64
	var top pt
	if photo != nil {
		b := photo.Bounds()
		pw = ph * float64(b.Dx()) / float64(b.Dy())
		if pw > r.w*0.5 {
			pw = r.w * 0.5
			ph = pw * float64(b.Dy()) / float64(b.Dx())
		}
	} else {
		pw = ph * 0.35
	}
	// Shadow first.
	sdx := r.lt.shadowDir * ph * 0.35
	if r.cam.mirror {
		sdx = -sdx
	}
	shA := 0.45
	if !r.lt.sun {
		shA = 0.25
	}
	r.c.ellipse(foot.x+sdx, foot.y, pw*0.45+math.Abs(sdx), ph*0.05, rgb{10, 10, 15}, shA, ph*0.03)
	if photo != nil {
		r.pastePhoto(photo, foot, pw, ph)
		top = pt{foot.x, foot.y - ph*0.92}
	} else {
		top = r.streetLight(foot, ph)
	}
	if r.lt.lamp || r.s.TimeOfDay == evening {
		a := 0.75
		if r.s.TimeOfDay == evening {
			a = 0.35
		}
		r.c.glow(top.x, top.y, ph*0.6, rgb{255, 236, 190}, a)
		// The pool of light on the ground, in front of the lamp head.
		r.c.ellipse((foot.x+top.x)/2, foot.y, ph*0.6, ph*0.16, rgb{255, 225, 170}, a*0.5, ph*0.1)
	}
}

func (r *renderer) pastePhoto(photo image.Image, foot pt, pw, ph float64) {
	scaled := scaleNRGBA(photo, max(1, int(pw)), max(1, int(ph)))
	x0, y0 := int(foot.x-pw/2), int(foot.y-ph)
	tint := r.lt.tint
	g := math.Max(r.lt.ground, 0.35) // keep the product readable even at night
	b := scaled.Bounds()
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			i := y*scaled.Stride + x*4
			a := float64(scaled.Pix[i+3]) / 255
			if a == 0 {
				continue
			}
			col := rgb{float64(scaled.Pix[i]), float64(scaled.Pix[i+1]), float64(scaled.Pix[i+2])}
			r.c.blend(x0+x, y0+y, col.tint(tint).scale(g), a)
		}
	}
}

// streetLight draws a generic solar street light when there is no photo;
// it returns the lamp head position.
func (r *renderer) streetLight(foot pt, ph float64) pt {
	pole := r.lt.apply(rgb{150, 155, 160})
	r.c.rect(foot.x-ph*0.012, foot.y-ph, foot.x+ph*0.012, foot.y, pole, 1)
	arm := pt{foot.x + ph*0.22, foot.y - ph*0.93}
	r.c.line(foot.x, foot.y-ph*0.9, arm.x, arm.y, ph*0.015, pole, 1)
	r.c.rect(arm.x-ph*0.08, arm.y-ph*0.02, arm.x+ph*0.06, arm.y+ph*0.025, r.lt.apply(rgb{70, 70, 75}), 1)
	panel := r.lt.apply(rgb{30, 50, 110})
	r.c.polygon([]pt{{foot.x - ph*0.14, foot.y - ph*1.02}, {foot.x + ph*0.1, foot.y - ph*1.08},
		{foot.x + ph*0.1, foot.y - ph*0.96}, {foot.x - ph*0.14, foot.y - ph*0.9}}, panel, 1, nil)
	return arm
}

func (r *renderer) weather() {
	switch r.s.Weather {
	case rain:
		col := rgb{200, 205, 215}
		n := int(r.w * r.h / 2500)
		for range n {
			x, y := r.rng.Float64()*r.w, r.rng.Float64()*r.h
			l := r.h * (0.02 + r.rng.Float64()*0.03)
			r.c.line(x, y, x-l*0.25, y+l, math.Max(1, r.h/900), col, 0.35)
		}
	case snow:
		n := int(r.w * r.h / 1800)
		for range n {
			x, y := r.rng.Float64()*r.w, r.rng.Float64()*r.h
			s := r.h * (0.0015 + r.rng.Float64()*0.004)
			r.c.ellipse(x, y, s, s, rgb{250, 250, 255}, 0.85, 0)
		}
	case frost:
		// Glints of hoarfrost on the ground only: nothing falls.
		n := int(r.w * r.h / 3000)
		for range n {
			x := r.rng.Float64() * r.w
			y := r.horiz + r.rng.Float64()*(r.h-r.horiz)
			s := r.h * 0.0012
			r.c.ellipse(x, y, s, s, rgb{235, 245, 255}, 0.7, 0)
		}
	}
	if r.lt.haze > 0 {
		// Distance haze near the horizon.
		band := r.h * 0.18
		for y := max(int(r.horiz-band), 0); y < min(int(r.horiz+band), r.c.h); y++ {
			a := r.lt.haze * (1 - math.Abs(float64(y)-r.horiz)/band)
			for x := 0; x < r.c.w; x++ {
				r.c.blend(x, y, r.lt.skyBottom, a)
			}
		}
	}
}
