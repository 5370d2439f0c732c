// Package provider_test benchmarks the provider clients and the simulator.
//
// Client overhead per call is measured against the fakes at zero latency
// with StaticImages on (the fake renders each size once), so the number is
// what ludeng itself spends per image: building the request, HTTP on
// loopback, JSON/base64 decoding, limiter/breaker/ledger/metrics
// bookkeeping and fitting the image to its exact output size.
//
//	go test -run '^$' -bench . -benchmem ./bench/provider/
package provider_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/provider/fake"
	"github.com/ludeng/ludeng/internal/provider/sim"
	"github.com/prometheus/client_golang/prometheus"
)

func productPhoto(b *testing.B) []byte {
	b.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 800, 1200))
	for y := range 1200 {
		for x := range 800 {
			c := color.RGBA{255, 255, 255, 255}
			if x > 380 && x < 420 || y < 160 && x > 200 && x < 600 {
				c = color.RGBA{40, 60, 120, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkClientOverhead(b *testing.B) {
	f := fake.New(fake.Options{StaticImages: true}, nil)
	srv := httptest.NewServer(f)
	defer srv.Close()
	base := map[string]string{"gemini": "/gemini", "openrouter": "/openrouter/api/v1", "openai": "/openai/v1", "kie": "/kie"}
	photo := productPhoto(b)
	for _, name := range []string{"gemini", "openrouter", "openai", "kie"} {
		for _, res := range []int{1024, 1536} {
			b.Run(name+"/"+map[int]string{1024: "1024", 1536: "1536"}[res], func(b *testing.B) {
				svc, err := provider.New(provider.Config{Providers: []provider.ProviderConfig{{
					Name: name, APIKey: "k", BaseURL: srv.URL + base[name], Timeout: time.Minute,
					PollInterval: time.Nanosecond, PollMaxInterval: time.Nanosecond,
				}}}, provider.Deps{Registerer: prometheus.NewRegistry()})
				if err != nil {
					b.Fatal(err)
				}
				req := provider.Request{Photo: photo, PhotoMIME: "image/jpeg", Prompt: "傍晚 土路 三轮车",
					Aspect: provider.Aspect3x4, Resolution: res}
				// Warm the fake's image cache outside the timer.
				if _, err := svc.Generate(context.Background(), req); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for b.Loop() {
					if _, err := svc.Generate(context.Background(), req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkEnhancer(b *testing.B) {
	f := fake.New(fake.Options{KeepAliveLines: 2}, nil)
	srv := httptest.NewServer(f)
	defer srv.Close()
	e, err := provider.NewEnhancer(provider.DeepSeekConfig{APIKey: "k", BaseURL: srv.URL + "/deepseek", CacheSize: 0},
		provider.Deps{Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := e.Enhance(context.Background(), provider.EnhanceRequest{Prompt: "河北邢台 七月 土路 三轮车 傍晚"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSimulator(b *testing.B) {
	photo := productPhoto(b)
	g := sim.New(sim.Options{})
	scene := &provider.Scene{TimeOfDay: "evening", Weather: "sunny", Month: 7, Road: "dirt", Terrain: "plain",
		Elements: []string{"tricycle", "people"}, Caption: "Hebei Xingtai"}
	for _, res := range []int{1024, 1536} {
		req := provider.Request{Photo: photo, PhotoMIME: "image/jpeg", Prompt: "p", Scene: scene,
			Aspect: provider.Aspect3x4, Resolution: res}
		w, h, _ := provider.OutputSize(req.Aspect, res)
		b.Run("render/"+map[int]string{1024: "1024", 1536: "1536"}[res], func(b *testing.B) {
			for b.Loop() {
				g.Render(req, w, h)
			}
		})
		b.Run("generate+jpeg/"+map[int]string{1024: "1024", 1536: "1536"}[res], func(b *testing.B) {
			for b.Loop() {
				if _, err := g.Generate(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNormalize is the part of the client overhead spent fitting a
// provider's native image to the exact output size (decode, Lanczos
// cover-resize, centre crop, JPEG encode).
func BenchmarkNormalize(b *testing.B) {
	g := sim.New(sim.Options{})
	cases := []struct {
		name   string
		nw, nh int // native size (Gemini 3:4 1K / 2K)
		res    int
		ow, oh int
	}{
		{"896x1200_to_768x1024", 896, 1200, 1024, 768, 1024},
		{"1792x2400_to_1152x1536", 1792, 2400, 1536, 1152, 1536},
	}
	for _, c := range cases {
		img := g.Render(provider.Request{Prompt: "noon"}, c.nw, c.nh)
		data, _, err := provider.Encode(img, true)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := provider.Normalize(data, c.ow, c.oh); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
