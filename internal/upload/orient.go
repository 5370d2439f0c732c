package upload

import (
	"image"

	"github.com/ludeng/ludeng/internal/imaging"
)

// orient applies EXIF orientation o. YCbCr and Gray images, which is what
// JPEG decodes to, are transformed plane by plane so the copy costs 1.5 (or
// 1) bytes per pixel instead of the 4 of the generic NRGBA path; other
// images go through imaging.Orient.
func orient(img image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	switch m := img.(type) {
	case *image.Gray:
		w, h := m.Rect.Dx(), m.Rect.Dy()
		pix, dw, dh := transformPlane(m.Pix, m.Stride, w, h, o)
		return &image.Gray{Pix: pix, Stride: dw, Rect: image.Rect(0, 0, dw, dh)}
	case *image.YCbCr:
		ratio, ok := orientedRatio(m.SubsampleRatio, o)
		if !ok || !aligned(m) {
			break
		}
		w, h := m.Rect.Dx(), m.Rect.Dy()
		// Plane sizes follow image.NewYCbCr's rounding for the original ratio.
		cw, ch := chromaSize(m.SubsampleRatio, m.Rect)
		y, dw, dh := transformPlane(m.Y, m.YStride, w, h, o)
		cb, cdw, _ := transformPlane(m.Cb, m.CStride, cw, ch, o)
		cr, _, _ := transformPlane(m.Cr, m.CStride, cw, ch, o)
		out := &image.YCbCr{
			Y: y, Cb: cb, Cr: cr,
			YStride: dw, CStride: cdw,
			SubsampleRatio: ratio,
			Rect:           image.Rect(0, 0, dw, dh),
		}
		// Guard the invariants image.YCbCr relies on; on odd sizes where the
		// rotated chroma plane would be too small, use the generic path.
		ecw, ech := chromaSize(ratio, out.Rect)
		if len(out.Cb) < ecw*ech || cdw < ecw {
			break
		}
		return out
	}
	return imaging.Orient(img, o)
}

// aligned reports whether m's size is a whole number of chroma blocks and
// starts at the origin. Only then does mirroring each plane keep every
// chroma sample over the same luma pixels; on odd sizes the edge block is
// partial and mirrored planes would shift chroma by a pixel, so those go
// through the generic path (JPEG photos are almost always aligned).
func aligned(m *image.YCbCr) bool {
	hs, vs := 1, 1
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 2
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		vs = 2
	case image.YCbCrSubsampleRatio411:
		hs = 4
	case image.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	}
	return m.Rect.Min == image.Point{} && m.Rect.Dx()%hs == 0 && m.Rect.Dy()%vs == 0
}

// transposes reports whether orientation o swaps width and height.
func transposes(o int) bool { return o >= 5 && o <= 8 }

// orientedRatio maps a subsampling ratio through the transform: a 90°
// rotation turns 4:2:2 (horizontal halving) into 4:4:0 (vertical halving).
func orientedRatio(r image.YCbCrSubsampleRatio, o int) (image.YCbCrSubsampleRatio, bool) {
	if !transposes(o) {
		return r, true
	}
	switch r {
	case image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio420:
		return r, true
	case image.YCbCrSubsampleRatio422:
		return image.YCbCrSubsampleRatio440, true
	case image.YCbCrSubsampleRatio440:
		return image.YCbCrSubsampleRatio422, true
	}
	return r, false // 4:1:1 and 4:1:0 have no transposed equivalent
}

// chromaSize returns the chroma plane size image.NewYCbCr uses.
func chromaSize(r image.YCbCrSubsampleRatio, rect image.Rectangle) (int, int) {
	w, h := rect.Dx(), rect.Dy()
	switch r {
	case image.YCbCrSubsampleRatio422:
		return (rect.Max.X+1)/2 - rect.Min.X/2, h
	case image.YCbCrSubsampleRatio420:
		return (rect.Max.X+1)/2 - rect.Min.X/2, (rect.Max.Y+1)/2 - rect.Min.Y/2
	case image.YCbCrSubsampleRatio440:
		return w, (rect.Max.Y+1)/2 - rect.Min.Y/2
	case image.YCbCrSubsampleRatio411:
		return (rect.Max.X+3)/4 - rect.Min.X/4, h
	case image.YCbCrSubsampleRatio410:
		return (rect.Max.X+3)/4 - rect.Min.X/4, (rect.Max.Y+1)/2 - rect.Min.Y/2
	}
	return w, h
}

// transformPlane applies orientation o to a w×h 8-bit plane, returning the
// new tightly packed plane and its size. For each destination pixel (x, y)
// it reads the source pixel the EXIF transform maps there.
func transformPlane(src []uint8, stride, w, h, o int) ([]uint8, int, int) {
	dw, dh := w, h
	if transposes(o) {
		dw, dh = h, w
	}
	dst := make([]uint8, dw*dh)
	for y := 0; y < dh; y++ {
		row := dst[y*dw : (y+1)*dw]
		for x := range row {
			var sx, sy int
			switch o {
			case 2: // mirror horizontal
				sx, sy = w-1-x, y
			case 3: // rotate 180
				sx, sy = w-1-x, h-1-y
			case 4: // mirror vertical
				sx, sy = x, h-1-y
			case 5: // transpose
				sx, sy = y, x
			case 6: // rotate 90 CW
				sx, sy = y, h-1-x
			case 7: // transverse
				sx, sy = w-1-y, h-1-x
			case 8: // rotate 90 CCW
				sx, sy = w-1-y, x
			}
			row[x] = src[sy*stride+sx]
		}
	}
	return dst, dw, dh
}
