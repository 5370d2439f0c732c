package fake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// options returns a copy of the current options.
func (s *Server) options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// oaiErr writes the OpenAI / DeepSeek error shape.
func oaiErr(w http.ResponseWriter, status int, msg, typ string, code any) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
}

func (s *Server) retryAfter(w http.ResponseWriter, st step) {
	d := st.delay
	if d == 0 {
		d = time.Duration(s.options().RetryAfter)
	}
	w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
}

func (s *Server) openAI(w http.ResponseWriter, r *http.Request, rest string) {
	if !s.keyOK(bearer(r)) {
		oaiErr(w, http.StatusUnauthorized, "Incorrect API key provided: sk-****. You can find your API key at https://platform.openai.com/account/api-keys.",
			"invalid_request_error", "invalid_api_key")
		return
	}
	switch {
	case rest == "/v1/models" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []map[string]any{
			{"id": "gpt-image-1.5", "object": "model", "created": 1700000000, "owned_by": "system"},
			{"id": "gpt-image-1", "object": "model", "created": 1700000000, "owned_by": "system"},
		}})
		return
	case rest == "/v1/images/edits" && r.Method == http.MethodPost:
	default:
		oaiErr(w, http.StatusNotFound, "Invalid URL ("+r.Method+" "+rest+")", "invalid_request_error", nil)
		return
	}
	if err := r.ParseMultipartForm(64 << 20); err != nil {
		st, alive := s.begin(r, "openai")
		if alive && st.name != "timeout" {
			oaiErr(w, http.StatusBadRequest, "Invalid multipart body: "+err.Error(), "invalid_request_error", nil)
		}
		return
	}
	// The form is read before the latency so the picture can be rendered
	// during it (see begin); errors are still answered after it.
	prompt, model, size := r.FormValue("prompt"), r.FormValue("model"), r.FormValue("size")
	format := r.FormValue("output_format")
	if format == "" {
		format = "png"
	}
	var photo []byte
	for _, name := range []string{"image", "image[]"} {
		if fhs := r.MultipartForm.File[name]; len(fhs) > 0 && photo == nil {
			if f, err := fhs[0].Open(); err == nil {
				photo, _ = io.ReadAll(f)
				f.Close()
			}
		}
	}
	if model == "" {
		model = "gpt-image-1.5"
	}
	wh, sizeErr := openAISize(model, size)
	var img func() blob
	st, alive := s.begin(r, "openai", func(st step) {
		if st.name == "ok" && photo != nil && prompt != "" && sizeErr == "" {
			img = s.prerenderAs(prompt, photo, wh[0], wh[1], format)
		}
	})
	if !alive {
		return
	}
	switch {
	case st.name != "ok":
	case photo == nil:
		oaiErr(w, http.StatusBadRequest, "Missing required parameter: 'image'.", "invalid_request_error", "missing_required_parameter")
		return
	case prompt == "":
		oaiErr(w, http.StatusBadRequest, "Missing required parameter: 'prompt'.", "invalid_request_error", "missing_required_parameter")
		return
	case sizeErr != "":
		oaiErr(w, http.StatusBadRequest, sizeErr, "invalid_request_error", "invalid_value")
		return
	}
	switch st.name {
	case "ok":
		im := img()
		writeJSON(w, http.StatusOK, map[string]any{
			"created":    s.options().Now().Unix(),
			"data":       []map[string]any{{"b64_json": base64.StdEncoding.EncodeToString(im.data)}},
			"background": "opaque", "output_format": format, "quality": orDefault(r.FormValue("quality"), "medium"),
			"size": fmt.Sprintf("%dx%d", wh[0], wh[1]),
			"usage": map[string]any{"input_tokens": 1536, "input_tokens_details": map[string]int{"image_tokens": 1500, "text_tokens": 36},
				"output_tokens": 6240, "total_tokens": 7776},
		})
	case "no_image":
		writeJSON(w, http.StatusOK, map[string]any{"created": s.options().Now().Unix(), "data": []any{}})
	case "blocked", "blocked_output":
		oaiErr(w, http.StatusBadRequest, "Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com and include the request ID req_fake. safety_violations=[violence].",
			"image_generation_user_error", "moderation_blocked")
	case "auth":
		oaiErr(w, http.StatusUnauthorized, "Incorrect API key provided: sk-****.", "invalid_request_error", "invalid_api_key")
	case "location":
		oaiErr(w, http.StatusForbidden, "Country, region, or territory not supported", "request_forbidden", "unsupported_country_region_territory")
	case "429", "429_bare":
		if st.name == "429" {
			s.retryAfter(w, st)
		}
		oaiErr(w, http.StatusTooManyRequests, "Rate limit reached for "+model+" on images per minute (IPM): Limit 5, Used 5, Requested 1.",
			"requests", "rate_limit_exceeded")
	case "quota":
		oaiErr(w, http.StatusTooManyRequests, "You exceeded your current quota, please check your plan and billing details.",
			"insufficient_quota", "insufficient_quota")
	case "model_not_found":
		oaiErr(w, http.StatusNotFound, "The model `"+model+"` does not exist or you do not have access to it.", "invalid_request_error", "model_not_found")
	case "bad_request":
		oaiErr(w, http.StatusBadRequest, "Invalid value for 'quality'.", "invalid_request_error", "invalid_value")
	case "500":
		oaiErr(w, http.StatusInternalServerError, "The server had an error while processing your request. Sorry about that!", "server_error", nil)
	case "502":
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>")
	case "503":
		s.retryAfter(w, st)
		oaiErr(w, http.StatusServiceUnavailable, "The engine is currently overloaded, please try again later", "server_error", nil)
	case "504", "timeout":
		oaiErr(w, http.StatusGatewayTimeout, "Gateway timeout.", "server_error", nil)
	case "malformed":
		writeMalformed(w)
	default:
		oaiErr(w, http.StatusServiceUnavailable, "Service unavailable.", "server_error", nil)
	}
}

// openAISize validates size for the model and returns the output size.
func openAISize(model, size string) ([2]int, string) {
	switch size {
	case "", "auto", "1024x1536":
		return [2]int{1024, 1536}, ""
	case "1024x1024":
		return [2]int{1024, 1024}, ""
	case "1536x1024":
		return [2]int{1536, 1024}, ""
	}
	if strings.HasPrefix(model, "gpt-image-2") {
		ws, hs, ok := strings.Cut(size, "x")
		wi, err1 := strconv.Atoi(ws)
		hi, err2 := strconv.Atoi(hs)
		if ok && err1 == nil && err2 == nil && wi%16 == 0 && hi%16 == 0 && wi > 0 && hi > 0 &&
			wi <= 3840 && hi <= 3840 && wi*3 >= hi && hi*3 >= wi {
			return [2]int{wi, hi}, ""
		}
	}
	return [2]int{}, fmt.Sprintf("Invalid value: '%s'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.", size)
}

// prerenderAs starts rendering in the requested output format (see prerender).
func (s *Server) prerenderAs(prompt string, photo []byte, w, h int, format string) func() blob {
	switch format {
	case "jpeg", "jpg":
		return s.prerender(prompt, photo, w, h, true)
	case "png":
		return s.prerender(prompt, photo, w, h, false)
	}
	return s.prerender(prompt, photo, w, h, !s.options().PNG)
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func (s *Server) openRouter(w http.ResponseWriter, r *http.Request, rest string) {
	orErr := func(status int, msg string, meta map[string]any) {
		e := map[string]any{"code": status, "message": msg}
		if meta != nil {
			e["metadata"] = meta
		}
		writeJSON(w, status, map[string]any{"error": e})
	}
	if !s.keyOK(bearer(r)) {
		orErr(http.StatusUnauthorized, "No auth credentials found", nil)
		return
	}
	switch {
	case rest == "/api/v1/models" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"data": []map[string]any{
			{"id": "google/gemini-3-pro-image", "name": "Google: Nano Banana Pro",
				"architecture": map[string]any{"input_modalities": []string{"text", "image"}, "output_modalities": []string{"image", "text"}}},
		}})
		return
	case rest == "/api/v1/chat/completions" && r.Method == http.MethodPost:
	default:
		orErr(http.StatusNotFound, "Not Found", nil)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return
	}
	// The request is read before the latency so the picture can be
	// rendered during it (see begin); errors are still answered after it.
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Modalities  []string `json:"modalities"`
		ImageConfig struct {
			AspectRatio string `json:"aspect_ratio"`
			ImageSize   string `json:"image_size"`
		} `json:"image_config"`
	}
	jsonErr := json.Unmarshal(body, &req)
	var prompt string
	var photo []byte
	for _, m := range req.Messages {
		var text string
		if json.Unmarshal(m.Content, &text) == nil {
			prompt += text
			continue
		}
		var parts []struct {
			Type     string `json:"type"`
			Text     string `json:"text"`
			ImageURL struct {
				URL string `json:"url"`
			} `json:"image_url"`
		}
		_ = json.Unmarshal(m.Content, &parts)
		for _, p := range parts {
			switch p.Type {
			case "text":
				prompt += p.Text
			case "image_url":
				if _, data, ok := strings.Cut(p.ImageURL.URL, ","); ok && photo == nil {
					photo, _ = base64.StdEncoding.DecodeString(data)
				}
			}
		}
	}
	wh, verr := geminiSize(req.Model, req.ImageConfig.AspectRatio, req.ImageConfig.ImageSize)
	var img func() blob
	st, alive := s.begin(r, "openrouter", func(st step) {
		if st.name == "ok" && jsonErr == nil && verr == "" && len(req.Messages) > 0 {
			img = s.prerender(prompt, photo, wh[0], wh[1], !s.options().PNG)
		}
	})
	if !alive {
		return
	}
	if jsonErr != nil {
		orErr(http.StatusBadRequest, "Invalid JSON in request body", nil)
		return
	}
	if st.name == "ok" && (verr != "" || len(req.Messages) == 0) {
		orErr(http.StatusBadRequest, "Provider returned error: "+orDefault(verr, "messages are required"), nil)
		return
	}
	usage := map[string]any{"prompt_tokens": 270, "completion_tokens": 1290, "total_tokens": 1560}
	reply := func(content string, images []map[string]any, finish string) {
		msg := map[string]any{"role": "assistant", "content": content}
		if images != nil {
			msg["images"] = images
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id": s.id("gen-"), "provider": "Google", "model": req.Model, "object": "chat.completion",
			"created": s.options().Now().Unix(),
			"choices": []map[string]any{{"logprobs": nil, "finish_reason": finish, "native_finish_reason": strings.ToUpper(finish),
				"index": 0, "message": msg}},
			"usage": usage,
		})
	}
	switch st.name {
	case "ok":
		im := img()
		reply("Here is the street light in the scene.", []map[string]any{{"type": "image_url",
			"image_url": map[string]string{"url": "data:" + im.mime + ";base64," + base64.StdEncoding.EncodeToString(im.data)}}}, "stop")
	case "no_image":
		reply("I can describe the scene, but I did not generate an image this time.", nil, "stop")
	case "blocked":
		orErr(http.StatusForbidden, "Input was flagged by moderation", map[string]any{"reasons": []string{"violence"},
			"flagged_input": "…", "provider_name": "Google", "model_slug": req.Model})
	case "blocked_output":
		reply("", nil, "content_filter")
	case "auth":
		orErr(http.StatusUnauthorized, "User not found.", nil)
	case "location":
		orErr(http.StatusForbidden, "This model is not available in your region.", nil)
	case "429", "429_bare":
		if st.name == "429" {
			s.retryAfter(w, st)
		}
		orErr(http.StatusTooManyRequests, "Rate limit exceeded: "+req.Model, map[string]any{"provider_name": "Google"})
	case "quota":
		orErr(http.StatusPaymentRequired, "This request requires more credits, or fewer max_tokens. You requested up to 1290 tokens, but can only afford 0.", nil)
	case "model_not_found":
		orErr(http.StatusBadRequest, req.Model+" is not a valid model ID", nil)
	case "bad_request":
		orErr(http.StatusBadRequest, "Provider returned error", map[string]any{"raw": "invalid argument"})
	case "500":
		orErr(http.StatusInternalServerError, "Internal Server Error", nil)
	case "502":
		orErr(http.StatusBadGateway, "Provider returned error", map[string]any{"provider_name": "Google", "raw": "upstream error"})
	case "503":
		orErr(http.StatusServiceUnavailable, "No available model provider that meets your routing requirements", nil)
	case "504", "timeout":
		orErr(http.StatusRequestTimeout, "Request timed out", nil)
	case "malformed":
		writeMalformed(w)
	default:
		orErr(http.StatusServiceUnavailable, "Service unavailable", nil)
	}
}
