package provider

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
)

// deepSeek calls DeepSeek chat completions in JSON mode with thinking
// disabled (thinking is on by default on V4 and would ignore temperature).
type deepSeek struct {
	cfg DeepSeekConfig
	hc  *http.Client
	clk Clock
}

type deepSeekMode struct {
	temperature, topP float64
	instruction       string
}

// deepSeekModes documents what each Mode sends.
var deepSeekModes = map[Mode]deepSeekMode{
	ModeCreative: {1.3, 0.95, "Rewrite it into a vivid, cinematic scene description. You may add atmosphere, light, " +
		"weather detail, composition and small background details that fit the region and season."},
	ModeBalanced: {1.0, 1.0, "Rewrite it into a fluent, richer scene description. Add only details implied by the " +
		"input (region, season, road, elements); do not invent new objects."},
	ModePrecise: {0.3, 1.0, "Rephrase it into one clear scene description. Keep every stated fact and add nothing."},
}

// deepSeekSystem keeps prompt v2's structure (docs/prompts.md): the
// enhancer may enrich the wording but not reorder or drop the parts, not
// add place cues or weather the planner did not choose, and not grow the
// prompt past the length image models follow well.
const deepSeekSystem = "You write prompts for an image model that places a solar street light product photo into a " +
	"marketing scene in rural or small-town China. %s Keep the input's structure and order: product fidelity first " +
	"(the product stays exactly as in the photo, and at night it shines in its own light colour), then framing (the " +
	"light is the hero of a vertical 3:4 frame, the pole height, the panel facing open sky, camera height and lens), " +
	"then the place cues, the month, the elements, time of day and weather. Keep every labelled line; do not add " +
	"weather, season or place details that contradict or go beyond those lines, never mention rain together with " +
	"frost or snow, and stay under 900 characters. Answer only with json in this shape: " +
	"{\"prompt\": \"...\", \"negative\": \"...\"}. Write the prompt in the language of the input."

type deepSeekResponse struct {
	Choices []struct {
		FinishReason string `json:"finish_reason"`
		Message      struct {
			Content string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens          int64 `json:"prompt_tokens"`
		CompletionTokens      int64 `json:"completion_tokens"`
		PromptCacheHitTokens  int64 `json:"prompt_cache_hit_tokens"`
		PromptCacheMissTokens int64 `json:"prompt_cache_miss_tokens"`
	} `json:"usage"`
}

func (d *deepSeek) enhance(ctx context.Context, req EnhanceRequest) (Enhanced, usage, error) {
	mode := deepSeekModes[req.Mode]
	body := map[string]any{
		"model": d.cfg.Model,
		"messages": []map[string]string{
			{"role": "system", "content": strings.Replace(deepSeekSystem, "%s", mode.instruction, 1)},
			{"role": "user", "content": req.Prompt},
		},
		"thinking":        map[string]string{"type": "disabled"},
		"temperature":     mode.temperature,
		"top_p":           mode.topP,
		"max_tokens":      2048,
		"response_format": map[string]string{"type": "json_object"},
		"stream":          false,
	}
	// DeepSeek keeps a waiting request alive with blank lines before the JSON
	// body; do reads the whole body and encoding/json skips the whitespace.
	ans, err := do(ctx, d.hc, httpCall{
		method: http.MethodPost,
		url:    d.cfg.BaseURL + "/chat/completions",
		header: http.Header{"Authorization": {"Bearer " + d.cfg.APIKey}},
		jsonIn: body,
		// A prompt answer is small; a huge body is a broken relay.
		maxBody: 4 << 20,
	})
	if err != nil {
		return Enhanced{}, usage{}, err
	}
	if ans.status != http.StatusOK {
		return Enhanced{}, usage{}, d.classify(ans)
	}
	var resp deepSeekResponse
	if err := json.Unmarshal(ans.body, &resp); err != nil {
		return Enhanced{}, usage{}, malformed(ans.status, err)
	}
	var u usage
	if r := resp.Usage; r != nil {
		u.in, u.out = r.PromptTokens, r.CompletionTokens
		hit, miss := r.PromptCacheHitTokens, r.PromptCacheMissTokens
		if hit+miss == 0 {
			miss = r.PromptTokens
		}
		u.cost = int64(math.Round((float64(hit)*float64(d.cfg.PriceInputHitMicros) +
			float64(miss)*float64(d.cfg.PriceInputMicros) +
			float64(r.CompletionTokens)*float64(d.cfg.PriceOutputMicros)) / 1e6))
	}
	if len(resp.Choices) == 0 {
		return Enhanced{}, u, &Error{Class: ClassNoImage, Status: ans.status, Code: "no_choices"}
	}
	c := resp.Choices[0]
	switch c.FinishReason {
	case "insufficient_system_resource":
		return Enhanced{}, u, &Error{Class: ClassUnavailable, Status: ans.status, Code: c.FinishReason}
	case "content_filter":
		return Enhanced{}, u, &Error{Class: ClassBlocked, Status: ans.status, Code: c.FinishReason}
	}
	content := strings.TrimSpace(c.Message.Content)
	if content == "" {
		// Documented JSON-mode behaviour: empty content even with "stop".
		return Enhanced{}, u, &Error{Class: ClassNoImage, Status: ans.status, Code: "empty_content"}
	}
	var out struct {
		Prompt   string `json:"prompt"`
		Negative string `json:"negative"`
	}
	if err := json.Unmarshal([]byte(content), &out); err != nil || strings.TrimSpace(out.Prompt) == "" {
		if err == nil {
			err = errors.New("no prompt field")
		}
		return Enhanced{}, u, &Error{Class: ClassNoImage, Status: ans.status, Code: "invalid_json_content", Err: err}
	}
	return Enhanced{Prompt: strings.TrimSpace(out.Prompt), Negative: strings.TrimSpace(out.Negative),
		Source: SourceDeepSeek, InputTokens: u.in, OutputTokens: u.out, CostMicros: u.cost}, u, nil
}

func (d *deepSeek) classify(ans httpAnswer) *Error {
	msg, typ, code := parseOpenAIError(ans.body)
	e := &Error{Class: statusClass(ans.status), Status: ans.status, Code: cmpOr(code, typ), Message: truncate(msg, 300)}
	switch {
	case strings.Contains(msg, "Model Not Exist"):
		e.Class = ClassModelGone
	case ans.status == http.StatusUnprocessableEntity:
		e.Class = ClassBadRequest
	case ans.status == http.StatusTooManyRequests || ans.status >= 500:
		e.RetryAfter = retryAfter(ans.header, d.clk.Now())
	}
	return e
}

// generate makes deepSeek a backend so the shared attempt machinery
// (breaker, ledger, metrics) can drive it; it never generates images.
func (d *deepSeek) generate(context.Context, Request, Tier) (rawImage, error) {
	return rawImage{}, &Error{Class: ClassBadRequest, Code: "not_an_image_provider"}
}

func (d *deepSeek) probe(ctx context.Context) error {
	ans, err := do(ctx, d.hc, httpCall{
		method: http.MethodGet,
		url:    d.cfg.BaseURL + "/models",
		header: http.Header{"Authorization": {"Bearer " + d.cfg.APIKey}},
	})
	if err != nil {
		return err
	}
	if ans.status != http.StatusOK {
		return d.classify(ans)
	}
	return nil
}
