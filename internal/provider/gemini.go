package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// gemini speaks Google's generateContent ("nano banana"). BaseURL may point
// at a Gemini-compatible relay: the Gemini API refuses mainland-China egress.
type gemini struct {
	cfg     ProviderConfig
	hc      *http.Client
	clk     Clock
	pacific *time.Location
}

func newGemini(cfg ProviderConfig, hc *http.Client, clk Clock) *gemini {
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		// No tzdata: Pacific standard time is close enough for a quota reset.
		loc = time.FixedZone("PST", -8*3600)
	}
	return &gemini{cfg: cfg, hc: hc, clk: clk, pacific: loc}
}

type geminiPart struct {
	Text       string            `json:"text,omitempty"`
	InlineData *geminiInlineData `json:"inlineData,omitempty"`
	Thought    bool              `json:"thought,omitempty"`
}

type geminiInlineData struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type geminiContent struct {
	Role  string       `json:"role"`
	Parts []geminiPart `json:"parts"`
}

type geminiRequest struct {
	Contents         []geminiContent `json:"contents"`
	GenerationConfig struct {
		ResponseModalities []string `json:"responseModalities"`
		ImageConfig        struct {
			AspectRatio string `json:"aspectRatio,omitempty"`
			ImageSize   string `json:"imageSize,omitempty"`
		} `json:"imageConfig"`
	} `json:"generationConfig"`
}

type geminiResponse struct {
	Candidates []struct {
		Content *struct {
			Parts []geminiPart `json:"parts"`
		} `json:"content"`
		FinishReason  string `json:"finishReason"`
		FinishMessage string `json:"finishMessage"`
	} `json:"candidates"`
	PromptFeedback *struct {
		BlockReason        string `json:"blockReason"`
		BlockReasonMessage string `json:"blockReasonMessage"`
	} `json:"promptFeedback"`
	UsageMetadata *struct {
		PromptTokenCount     int64 `json:"promptTokenCount"`
		CandidatesTokenCount int64 `json:"candidatesTokenCount"`
	} `json:"usageMetadata"`
}

type googleError struct {
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type       string `json:"@type"`
			RetryDelay string `json:"retryDelay"`
			Reason     string `json:"reason"`
			Violations []struct {
				QuotaID string `json:"quotaId"`
			} `json:"violations"`
		} `json:"details"`
	} `json:"error"`
}

func (g *gemini) generate(ctx context.Context, req Request, tier Tier) (rawImage, error) {
	var body geminiRequest
	body.Contents = []geminiContent{{Role: "user", Parts: []geminiPart{{Text: req.Prompt}}}}
	if len(req.Photo) > 0 {
		body.Contents[0].Parts = append(body.Contents[0].Parts, geminiPart{InlineData: &geminiInlineData{
			MimeType: req.PhotoMIME, Data: base64.StdEncoding.EncodeToString(req.Photo),
		}})
	}
	body.GenerationConfig.ResponseModalities = []string{"IMAGE"}
	body.GenerationConfig.ImageConfig.AspectRatio = tier.Aspect
	body.GenerationConfig.ImageConfig.ImageSize = tier.Size

	ans, err := do(ctx, g.hc, httpCall{
		method: http.MethodPost,
		url:    g.cfg.BaseURL + "/v1beta/models/" + url.PathEscape(g.cfg.Model) + ":generateContent",
		header: http.Header{"X-Goog-Api-Key": {g.cfg.APIKey}},
		jsonIn: body,
	})
	if err != nil {
		return rawImage{}, err
	}
	if ans.status != http.StatusOK {
		return rawImage{}, g.classify(ans)
	}
	var resp geminiResponse
	if err := json.Unmarshal(ans.body, &resp); err != nil {
		return rawImage{}, malformed(ans.status, err)
	}
	var out rawImage
	if u := resp.UsageMetadata; u != nil {
		out.inputTokens, out.outputTokens = u.PromptTokenCount, u.CandidatesTokenCount
	}
	if pf := resp.PromptFeedback; pf != nil && pf.BlockReason != "" {
		return out, &Error{Class: ClassBlocked, Status: ans.status, Code: pf.BlockReason,
			Message: truncate(pf.BlockReasonMessage, 200)}
	}
	if len(resp.Candidates) == 0 {
		return out, &Error{Class: ClassNoImage, Status: ans.status, Code: "no_candidates"}
	}
	c := resp.Candidates[0]
	// Thinking models may emit interim "thought" images: use the last
	// non-thought image part.
	var img *geminiInlineData
	if c.Content != nil {
		for i := range c.Content.Parts {
			p := c.Content.Parts[i]
			if !p.Thought && p.InlineData != nil && p.InlineData.Data != "" {
				img = p.InlineData
			}
		}
	}
	if img == nil {
		if geminiBlockedFinish(c.FinishReason) {
			return out, &Error{Class: ClassBlocked, Status: ans.status, Code: c.FinishReason,
				Message: truncate(c.FinishMessage, 200)}
		}
		code := c.FinishReason
		if code == "" {
			code = "NO_IMAGE"
		}
		return out, &Error{Class: ClassNoImage, Status: ans.status, Code: code, Message: truncate(c.FinishMessage, 200)}
	}
	data, err := base64.StdEncoding.DecodeString(img.Data)
	if err != nil {
		if data, err = decodeBase64(img.Data); err != nil {
			return out, malformed(ans.status, errors.New("image part is not base64"))
		}
	}
	out.data, out.mime = data, img.MimeType
	return out, nil
}

// geminiBlockedFinish lists finish reasons that are permanent for the
// prompt. NO_IMAGE, IMAGE_OTHER, OTHER, MAX_TOKENS… are "no image" and may
// be retried once.
func geminiBlockedFinish(r string) bool {
	switch r {
	case "SAFETY", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "RECITATION",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return true
	}
	return false
}

func (g *gemini) classify(ans httpAnswer) *Error {
	e := &Error{Class: statusClass(ans.status), Status: ans.status}
	var ge googleError
	if json.Unmarshal(ans.body, &ge) != nil || ge.Error == nil {
		e.Code = "http_" + strconv.Itoa(ans.status)
		e.Message = truncate(strings.TrimSpace(string(ans.body)), 200)
		e.RetryAfter = retryAfter(ans.header, g.clk.Now())
		return e
	}
	e.Code, e.Message = ge.Error.Status, truncate(ge.Error.Message, 300)
	var delay time.Duration
	perDay, keyInvalid := false, false
	for _, d := range ge.Error.Details {
		switch {
		case strings.HasSuffix(d.Type, "google.rpc.RetryInfo"):
			delay = parseProtoDuration(d.RetryDelay)
		case strings.HasSuffix(d.Type, "google.rpc.QuotaFailure"):
			for _, v := range d.Violations {
				if strings.Contains(v.QuotaID, "PerDay") {
					perDay = true
				}
			}
		case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo"):
			if d.Reason == "API_KEY_INVALID" {
				keyInvalid = true
			}
		}
	}
	if delay == 0 {
		delay = retryAfter(ans.header, g.clk.Now())
	}
	switch {
	case ans.status == http.StatusBadRequest && (keyInvalid || ge.Error.Status == "FAILED_PRECONDITION"):
		// A bad key is a 400 here, and so is "User location is not supported":
		// both make the provider unusable from this host.
		e.Class = ClassAuth
		if keyInvalid {
			e.Code = "API_KEY_INVALID"
		}
	case ans.status == http.StatusTooManyRequests && perDay:
		e.Class = ClassQuotaExhausted
		e.Until = g.nextPacificMidnight()
	case ans.status == http.StatusTooManyRequests, e.Class == ClassUnavailable:
		e.RetryAfter = delay
	}
	return e
}

// nextPacificMidnight is when Gemini's per-day quotas reset.
func (g *gemini) nextPacificMidnight() time.Time {
	now := g.clk.Now().In(g.pacific)
	y, m, d := now.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, g.pacific)
}

// parseProtoDuration parses google.protobuf.Duration JSON ("53s", "0.5s").
func parseProtoDuration(s string) time.Duration {
	n, ok := strings.CutSuffix(strings.TrimSpace(s), "s")
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || f <= 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

func (g *gemini) probe(ctx context.Context) error {
	ans, err := do(ctx, g.hc, httpCall{
		method: http.MethodGet,
		url:    g.cfg.BaseURL + "/v1beta/models?pageSize=1",
		header: http.Header{"X-Goog-Api-Key": {g.cfg.APIKey}},
	})
	if err != nil {
		return err
	}
	if ans.status != http.StatusOK {
		return g.classify(ans)
	}
	return nil
}
