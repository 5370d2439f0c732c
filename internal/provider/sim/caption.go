package sim

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// caption draws a "SIMULATED" badge and a bar naming the scene, so nobody
// mistakes a simulated picture for a generated one.
func (r *renderer) caption() {
	scale := max(1, int(math.Round(r.h/420)))
	lineH := 14 * scale
	lines := []string{
		captionLine(r.s.Caption),
		strings.Join(nonEmpty(r.s.TimeOfDay, r.s.Weather, r.s.Season, r.s.Road+" road", monthName(r.s.Month),
			strings.Join(r.s.Elements, "+")), " / "),
	}
	if lines[0] == "" {
		lines = lines[1:]
	}
	barH := float64(len(lines)*lineH + 10*scale)
	r.c.rect(0, r.h-barH, r.w, r.h, rgb{0, 0, 0}, 0.55)
	for i, l := range lines {
		r.text(l, 8*scale, int(r.h-barH)+6*scale+i*lineH, scale, rgb{255, 255, 255})
	}
	badge := "SIMULATED"
	bw := float64((len(badge)*7 + 8) * scale)
	r.c.rect(6*float64(scale), 6*float64(scale), 6*float64(scale)+bw, 6*float64(scale)+float64(18*scale), rgb{200, 30, 30}, 0.85)
	r.text(badge, 10*scale, 9*scale, scale, rgb{255, 255, 255})
}

// text renders ASCII with basicfont at an integer scale; other runes are
// dropped (captions should be ASCII or pinyin).
func (r *renderer) text(s string, x, y, scale int, col rgb) {
	s = asciiOnly(s)
	if s == "" {
		return
	}
	face := basicfont.Face7x13
	w := font.MeasureString(face, s).Ceil()
	mask := image.NewAlpha(image.Rect(0, 0, w, 13))
	d := &font.Drawer{Dst: mask, Src: image.NewUniform(color.Alpha{255}), Face: face, Dot: fixed.P(0, 11)}
	draw.Draw(mask, mask.Bounds(), image.Transparent, image.Point{}, draw.Src)
	d.DrawString(s)
	maxW := (r.c.w - x - 4) / scale
	for my := range 13 {
		for mx := 0; mx < min(w, maxW); mx++ {
			a := float64(mask.AlphaAt(mx, my).A) / 255
			if a == 0 {
				continue
			}
			for dy := range scale {
				for dx := range scale {
					r.c.blend(x+mx*scale+dx, y+my*scale+dy, col, a)
				}
			}
		}
	}
}

func captionLine(s string) string {
	s = strings.TrimSpace(asciiOnly(s))
	if s == "" {
		return ""
	}
	return s
}

func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 32 && r < 127 {
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func nonEmpty(parts ...string) []string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" && p != "road" {
			out = append(out, p)
		}
	}
	return out
}

func monthName(m int) string {
	if m < 1 || m > 12 {
		return ""
	}
	return []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}[m-1]
}
