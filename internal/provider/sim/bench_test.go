package sim

import (
	"testing"

	"github.com/ludeng/ludeng/internal/provider"
)

func BenchmarkRenderInternal(b *testing.B) {
	photo := productPhoto(b)
	g := New(Options{})
	s := provider.Scene{TimeOfDay: night, Weather: rain, Season: "summer", Road: "asphalt", Terrain: "town", Elements: []string{"people", "vehicles"}}
	for b.Loop() {
		g.Render(provider.Request{Photo: photo, PhotoMIME: "image/jpeg", Prompt: "p", Scene: &s}, 768, 1024)
	}
}
