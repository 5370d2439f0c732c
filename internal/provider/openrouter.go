package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// openRouter speaks OpenAI-compatible chat completions with image output
// (OpenRouter and relays that copy it): the image comes back in
// choices[0].message.images[] as a data: URL.
type openRouter struct {
	cfg ProviderConfig
	hc  *http.Client
	clk Clock
}

type chatContentPart struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url,omitempty"`
}

type openRouterRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string            `json:"role"`
		Content []chatContentPart `json:"content"`
	} `json:"messages"`
	Modalities  []string `json:"modalities"`
	ImageConfig struct {
		AspectRatio string `json:"aspect_ratio,omitempty"`
		ImageSize   string `json:"image_size,omitempty"`
	} `json:"image_config"`
}

type openRouterResponse struct {
	Choices []struct {
		FinishReason string `json:"finish_reason"`
		Message      struct {
			Content json.RawMessage `json:"content"`
			Images  []struct {
				ImageURL struct {
					URL string `json:"url"`
				} `json:"image_url"`
			} `json:"images"`
		} `json:"message"`
		Error *struct {
			Code    json.RawMessage `json:"code"`
			Message string          `json:"message"`
		} `json:"error"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
}

// Some relays put the image into the text as a markdown data: URL.
var dataURLInText = regexp.MustCompile(`data:image/[a-zA-Z0-9.+-]+;base64,[A-Za-z0-9+/=_-]+`)

func (o *openRouter) generate(ctx context.Context, req Request, tier Tier) (rawImage, error) {
	body := openRouterRequest{Model: o.cfg.Model, Modalities: []string{"image", "text"}}
	parts := []chatContentPart{{Type: "text", Text: req.Prompt}}
	if len(req.Photo) > 0 {
		p := chatContentPart{Type: "image_url"}
		p.ImageURL = &struct {
			URL string `json:"url"`
		}{URL: dataURL(req.PhotoMIME, req.Photo)}
		parts = append(parts, p)
	}
	body.Messages = append(body.Messages, struct {
		Role    string            `json:"role"`
		Content []chatContentPart `json:"content"`
	}{Role: "user", Content: parts})
	body.ImageConfig.AspectRatio = tier.Aspect
	body.ImageConfig.ImageSize = tier.Size

	ans, err := do(ctx, o.hc, httpCall{
		method: http.MethodPost,
		url:    o.cfg.BaseURL + "/chat/completions",
		header: http.Header{"Authorization": {"Bearer " + o.cfg.APIKey}, "X-Title": {"ludeng"}},
		jsonIn: body,
	})
	if err != nil {
		return rawImage{}, err
	}
	if ans.status != http.StatusOK {
		return rawImage{}, o.classify(ans.status, ans)
	}
	var resp openRouterResponse
	if err := json.Unmarshal(ans.body, &resp); err != nil {
		return rawImage{}, malformed(ans.status, err)
	}
	var out rawImage
	if resp.Usage != nil {
		out.inputTokens, out.outputTokens = resp.Usage.PromptTokens, resp.Usage.CompletionTokens
	}
	if len(resp.Choices) == 0 {
		// OpenRouter reports some upstream failures as a 200 with an error body.
		if msg, _, code := parseOpenAIError(ans.body); msg != "" || code != "" {
			st, _ := strconv.Atoi(code)
			return out, o.classify(st, httpAnswer{status: st, header: ans.header, body: ans.body})
		}
		return out, &Error{Class: ClassNoImage, Status: ans.status, Code: "no_choices"}
	}
	c := resp.Choices[0]
	if c.Error != nil {
		code := strings.Trim(string(c.Error.Code), `"`)
		st, _ := strconv.Atoi(code)
		e := &Error{Class: statusClass(st), Status: ans.status, Code: code, Message: truncate(c.Error.Message, 300)}
		if st == 0 {
			e.Class = ClassUnavailable
		}
		return out, e
	}
	for i := len(c.Message.Images) - 1; i >= 0; i-- {
		if mime, data, ok := decodeDataURL(c.Message.Images[i].ImageURL.URL); ok {
			out.data, out.mime = data, mime
			return out, nil
		}
	}
	var text string
	_ = json.Unmarshal(c.Message.Content, &text)
	if m := dataURLInText.FindString(text); m != "" {
		if mime, data, ok := decodeDataURL(m); ok {
			out.data, out.mime = data, mime
			return out, nil
		}
	}
	if c.FinishReason == "content_filter" {
		return out, &Error{Class: ClassBlocked, Status: ans.status, Code: "content_filter"}
	}
	return out, &Error{Class: ClassNoImage, Status: ans.status, Code: "no_image", Message: truncate(text, 200)}
}

func (o *openRouter) classify(status int, ans httpAnswer) *Error {
	msg, typ, code := parseOpenAIError(ans.body)
	e := &Error{Class: statusClass(status), Status: status, Code: code, Message: truncate(msg, 300)}
	if e.Code == "" {
		e.Code = typ
	}
	lower := strings.ToLower(msg)
	switch {
	case status == http.StatusForbidden && (strings.Contains(lower, "flagged") || strings.Contains(lower, "moderation")):
		e.Class = ClassBlocked
	case strings.Contains(lower, "not a valid model"):
		e.Class = ClassModelGone
	case status == http.StatusTooManyRequests || e.Class == ClassUnavailable:
		e.RetryAfter = retryAfter(ans.header, o.clk.Now())
	}
	if msg == "" {
		e.Message = truncate(strings.TrimSpace(string(ans.body)), 200)
	}
	return e
}

func (o *openRouter) probe(ctx context.Context) error {
	ans, err := do(ctx, o.hc, httpCall{
		method: http.MethodGet,
		url:    o.cfg.BaseURL + "/models?output_modalities=image",
		header: http.Header{"Authorization": {"Bearer " + o.cfg.APIKey}},
	})
	if err != nil {
		return err
	}
	if ans.status != http.StatusOK {
		return o.classify(ans.status, ans)
	}
	return nil
}
