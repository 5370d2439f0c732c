package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
)

// openAI speaks POST /v1/images/edits (multipart) with a GPT image model.
type openAI struct {
	cfg ProviderConfig
	hc  *http.Client
	clk Clock
}

type openAIImagesResponse struct {
	Data []struct {
		B64JSON string `json:"b64_json"`
		URL     string `json:"url"`
	} `json:"data"`
	OutputFormat string `json:"output_format"`
	Usage        *struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
}

func (o *openAI) generate(ctx context.Context, req Request, tier Tier) (rawImage, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if len(req.Photo) > 0 {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="image"; filename="product`+extFor(req.PhotoMIME)+`"`)
		h.Set("Content-Type", req.PhotoMIME)
		w, err := mw.CreatePart(h)
		if err != nil {
			return rawImage{}, fmt.Errorf("build multipart: %w", err)
		}
		if _, err := w.Write(req.Photo); err != nil {
			return rawImage{}, fmt.Errorf("build multipart: %w", err)
		}
	}
	fields := [][2]string{
		{"prompt", req.Prompt}, {"model", o.cfg.Model}, {"size", tier.Size},
		{"quality", o.cfg.Quality}, {"output_format", "jpeg"}, {"n", "1"},
	}
	// The mini model rejects input_fidelity.
	if o.cfg.InputFidelity != "" && !strings.Contains(o.cfg.Model, "mini") {
		fields = append(fields, [2]string{"input_fidelity", o.cfg.InputFidelity})
	}
	for _, f := range fields {
		if f[1] == "" {
			continue
		}
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return rawImage{}, fmt.Errorf("build multipart: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return rawImage{}, fmt.Errorf("build multipart: %w", err)
	}
	ans, err := do(ctx, o.hc, httpCall{
		method: http.MethodPost,
		url:    o.cfg.BaseURL + "/images/edits",
		header: http.Header{"Authorization": {"Bearer " + o.cfg.APIKey}, "Content-Type": {mw.FormDataContentType()}},
		body:   &buf,
	})
	if err != nil {
		return rawImage{}, err
	}
	if ans.status != http.StatusOK {
		return rawImage{}, o.classify(ans)
	}
	var resp openAIImagesResponse
	if err := json.Unmarshal(ans.body, &resp); err != nil {
		return rawImage{}, malformed(ans.status, err)
	}
	var out rawImage
	if resp.Usage != nil {
		out.inputTokens, out.outputTokens = resp.Usage.InputTokens, resp.Usage.OutputTokens
	}
	if len(resp.Data) == 0 || resp.Data[0].B64JSON == "" {
		return out, &Error{Class: ClassNoImage, Status: ans.status, Code: "no_image"}
	}
	data, err := decodeBase64(resp.Data[0].B64JSON)
	if err != nil {
		return out, malformed(ans.status, fmt.Errorf("b64_json: %w", err))
	}
	out.data = data
	out.mime = "image/" + strings.ReplaceAll(cmpOr(resp.OutputFormat, "png"), "jpg", "jpeg")
	return out, nil
}

func (o *openAI) classify(ans httpAnswer) *Error {
	msg, typ, code := parseOpenAIError(ans.body)
	e := &Error{Class: statusClass(ans.status), Status: ans.status, Code: cmpOr(code, typ), Message: truncate(msg, 300)}
	switch {
	case code == "moderation_blocked" || typ == "image_generation_user_error" && strings.Contains(msg, "safety"):
		e.Class = ClassBlocked
	case code == "model_not_found":
		e.Class = ClassModelGone
	case code == "insufficient_quota" || code == "billing_hard_limit_reached":
		e.Class = ClassQuotaExhausted
	case ans.status == http.StatusTooManyRequests || e.Class == ClassUnavailable:
		e.RetryAfter = retryAfter(ans.header, o.clk.Now())
	}
	if msg == "" {
		e.Message = truncate(strings.TrimSpace(string(ans.body)), 200)
	}
	return e
}

func (o *openAI) probe(ctx context.Context) error {
	ans, err := do(ctx, o.hc, httpCall{
		method: http.MethodGet,
		url:    o.cfg.BaseURL + "/models",
		header: http.Header{"Authorization": {"Bearer " + o.cfg.APIKey}},
	})
	if err != nil {
		return err
	}
	if ans.status != http.StatusOK {
		return o.classify(ans)
	}
	return nil
}

func extFor(mime string) string {
	switch mime {
	case "image/png":
		return ".png"
	case "image/webp":
		return ".webp"
	}
	return ".jpg"
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
