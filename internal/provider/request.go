package provider

import (
	"context"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
)

// ImageGenerator produces one image for one request. Service, the simulator
// and test doubles implement it; the pipeline depends only on this.
type ImageGenerator interface {
	Generate(ctx context.Context, req Request) (Result, error)
}

// Aspect is the output aspect ratio, width:height.
type Aspect string

// The aspects ludeng offers. 3:4 is the Xiaohongshu default; 9:16 is Douyin.
const (
	Aspect3x4  Aspect = "3:4"
	Aspect9x16 Aspect = "9:16"
	Aspect1x1  Aspect = "1:1"
)

// DefaultAspect is used when a request leaves Aspect empty.
const DefaultAspect = Aspect3x4

// The resolutions (long side in pixels) ludeng offers.
const (
	Resolution1024 = 1024
	Resolution1536 = 1536
)

// Request is one image to generate.
type Request struct {
	// Photo is the uploaded product photo (JPEG, PNG or WebP bytes).
	Photo []byte
	// PhotoMIME is Photo's media type, e.g. "image/jpeg".
	PhotoMIME string
	// Prompt is the full natural-language prompt sent to the model.
	Prompt string
	// Aspect is the output aspect ratio; empty means DefaultAspect.
	Aspect Aspect
	// Resolution is the long side of the output in pixels: 1024 or 1536.
	Resolution int
	// Scene is the structured scene, used only by the simulator. Real
	// providers never see it and nothing from it is added to prompts.
	Scene *Scene
	// Ref identifies who and what the call is for; it goes to the ledger and
	// the logs, never to a provider.
	Ref Ref
}

// Ref ties a provider call to ludeng's records.
type Ref struct {
	RequestID string
	UserID    string
	BatchID   string
	GroupID   string
	ImageID   string
}

// Scene is the structured description the simulator renders. The planner
// fills it; every field is optional.
type Scene struct {
	// TimeOfDay is morning, noon, evening or night.
	TimeOfDay string `json:"time_of_day,omitempty"`
	// Weather is sunny, overcast, rain, snow, frost (a clear frosty night
	// without lying snow) or clear (a dry clear night).
	Weather string `json:"weather,omitempty"`
	// Season is spring, summer, autumn or winter.
	Season string `json:"season,omitempty"`
	// Month is 1–12; it implies Season when Season is empty.
	Month int `json:"month,omitempty"`
	// Road is dirt, cement, asphalt or flagstone.
	Road string `json:"road,omitempty"`
	// Terrain is a hint such as plain, mountain, hills, water, town.
	Terrain string `json:"terrain,omitempty"`
	// Elements are scene elements such as people, vehicles, tricycle, animals, farm_work.
	Elements []string `json:"elements,omitempty"`
	// Caption names the scene on the picture (ASCII/pinyin renders best).
	Caption string `json:"caption,omitempty"`
	// Key identifies the combination (group); variants of one group share it.
	Key string `json:"key,omitempty"`
	// Seed, when not 0, varies the details of a regenerated image. Real
	// providers draw a new sample on every call and need no seed; the
	// simulator is deterministic and does.
	Seed int64 `json:"seed,omitempty"`
}

// Result is one generated image, already scaled/cropped to the exact size.
type Result struct {
	Image    []byte
	MIME     string
	Width    int
	Height   int
	Provider string
	Model    string
	// InputTokens and OutputTokens are as reported by the provider (0 when unknown).
	InputTokens  int64
	OutputTokens int64
	// CostMicros is the cost in micro-units of the configured currency.
	CostMicros int64
	// Latency is the duration of the successful attempt (not of retries).
	Latency time.Duration
	// Attempts counts provider calls made for this result, across fallbacks.
	Attempts int
}

// Normalized returns r with defaults applied (aspect) and checks it.
func (r Request) Normalized() (Request, error) {
	if r.Aspect == "" {
		r.Aspect = DefaultAspect
	}
	if r.Resolution == 0 {
		r.Resolution = Resolution1024
	}
	if _, _, err := OutputSize(r.Aspect, r.Resolution); err != nil {
		return r, err
	}
	if r.Prompt == "" {
		return r, fault.New(fault.Invalid, "prompt_required", "The image prompt is empty.")
	}
	return r, nil
}
