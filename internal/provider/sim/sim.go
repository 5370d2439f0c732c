// Package sim is the simulated image provider: with no API key configured it
// renders a real, varied picture for every request — sky by time of day and
// weather, ground by road and season, rain or snow, the product photo
// composited with a shadow, and a caption naming the scene — so the whole
// product works out of the box. Pictures are deterministic per request.
//
// The four variants of a group share the place (layout) but differ in light
// and framing (mirror, zoom, shift), and different groups get different
// layouts, so the QC thresholds (pHash distance > 12, SSIM < 0.9) pass.
package sim

import (
	"context"
	"crypto/sha256"
	"image"
	"sync"

	"github.com/ludeng/ludeng/internal/provider"
)

// Options tune the simulator.
type Options struct {
	// PNG makes the simulator answer PNG instead of JPEG.
	PNG bool
}

// Generator is the simulator; it implements provider.ImageGenerator.
type Generator struct {
	opts Options

	mu     sync.Mutex
	photos map[[32]byte]*image.NRGBA // decoded product cut-outs; a batch reuses one photo
	order  [][32]byte
}

var _ provider.ImageGenerator = (*Generator)(nil)

// New returns a simulator.
func New(opts Options) *Generator {
	return &Generator{opts: opts, photos: map[[32]byte]*image.NRGBA{}}
}

// Generate renders req at its exact output size.
func (g *Generator) Generate(ctx context.Context, req provider.Request) (provider.Result, error) {
	req, err := req.Normalized()
	if err != nil {
		return provider.Result{}, err
	}
	w, h, _ := provider.OutputSize(req.Aspect, req.Resolution)
	img := g.Render(req, w, h)
	if err := ctx.Err(); err != nil {
		return provider.Result{}, err
	}
	data, mime, err := provider.Encode(img, !g.opts.PNG)
	if err != nil {
		return provider.Result{}, err
	}
	return provider.Result{Image: data, MIME: mime, Width: w, Height: h, Provider: "simulator", Model: "simulator"}, nil
}

// Render draws req at w×h. The scene is req.Scene, or derived from the
// prompt when nil (as the fakes do).
func (g *Generator) Render(req provider.Request, w, h int) *image.RGBA {
	var scene provider.Scene
	if req.Scene != nil {
		scene = *req.Scene
	} else {
		scene = SceneFromPrompt(req.Prompt)
	}
	scene = normalize(scene)
	var photo image.Image
	if p := g.photo(req.Photo); p != nil {
		photo = p
	}
	return render(scene, photo, w, h, req.Prompt)
}

// photo returns the cached cut-out of data, or nil when data is empty or
// not a usable image (then a drawn street light stands in).
func (g *Generator) photo(data []byte) *image.NRGBA {
	if len(data) == 0 {
		return nil
	}
	key := sha256.Sum256(data)
	g.mu.Lock()
	p, ok := g.photos[key]
	g.mu.Unlock()
	if ok {
		return p
	}
	p, err := cutout(data)
	if err != nil {
		p = nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.photos[key]; !ok {
		g.photos[key] = p
		g.order = append(g.order, key)
		if len(g.order) > 8 {
			delete(g.photos, g.order[0])
			g.order = g.order[1:]
		}
	}
	return p
}
