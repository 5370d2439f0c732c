package fake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// geminiSizes is the documented 3.x / 2.1 family table (ratio → 1K, 2K, 4K).
var geminiSizes = map[string][3][2]int{
	"1:1":  {{1024, 1024}, {2048, 2048}, {4096, 4096}},
	"2:3":  {{848, 1264}, {1696, 2528}, {3392, 5056}},
	"3:2":  {{1264, 848}, {2528, 1696}, {5056, 3392}},
	"3:4":  {{896, 1200}, {1792, 2400}, {3584, 4800}},
	"4:3":  {{1200, 896}, {2400, 1792}, {4800, 3584}},
	"4:5":  {{928, 1152}, {1856, 2304}, {3712, 4608}},
	"5:4":  {{1152, 928}, {2304, 1856}, {4608, 3712}},
	"9:16": {{768, 1376}, {1536, 2752}, {3072, 5504}},
	"16:9": {{1376, 768}, {2752, 1536}, {5504, 3072}},
	"21:9": {{1584, 672}, {3168, 1344}, {6336, 2688}},
}

// gemini25Sizes is gemini-2.5-flash-image's 1K-only table.
var gemini25Sizes = map[string][2]int{
	"1:1": {1024, 1024}, "2:3": {832, 1248}, "3:2": {1248, 832}, "3:4": {864, 1184}, "4:3": {1184, 864},
	"4:5": {896, 1152}, "5:4": {1152, 896}, "9:16": {768, 1344}, "16:9": {1344, 768}, "21:9": {1536, 672},
}

// field looks a key up in camelCase and snake_case: the Gemini API parses
// proto3 JSON, so both spellings are valid requests.
func field(m map[string]any, camel string) any {
	if v, ok := m[camel]; ok {
		return v
	}
	var b strings.Builder
	for _, r := range camel {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return m[b.String()]
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func arr(v any) []any          { a, _ := v.([]any); return a }
func str(v any) string         { s, _ := v.(string); return s }

func googleErr(w http.ResponseWriter, code int, status, msg string, details ...map[string]any) {
	if details == nil {
		details = []map[string]any{}
	}
	e := map[string]any{"code": code, "message": msg, "status": status}
	if len(details) > 0 {
		e["details"] = details
	}
	writeJSON(w, code, map[string]any{"error": e})
}

func (s *Server) gemini(w http.ResponseWriter, r *http.Request, rest string) {
	key := r.Header.Get("X-Goog-Api-Key")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	if !s.keyOK(key) {
		geminiBadKey(w)
		return
	}
	if rest == "/v1beta/models" && r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, map[string]any{"models": []map[string]any{
			{"name": "models/gemini-nano-banana-2.1", "displayName": "Nano Banana 2.1",
				"supportedGenerationMethods": []string{"generateContent", "countTokens"}},
			{"name": "models/gemini-3-pro-image", "displayName": "Nano Banana Pro",
				"supportedGenerationMethods": []string{"generateContent", "countTokens"}},
		}})
		return
	}
	model, action, ok := strings.Cut(strings.TrimPrefix(rest, "/v1beta/models/"), ":")
	if !ok || !strings.HasPrefix(rest, "/v1beta/models/") || r.Method != http.MethodPost ||
		(action != "generateContent" && action != "streamGenerateContent") {
		googleErr(w, http.StatusNotFound, "NOT_FOUND", "Method not found.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return
	}
	// The request is read before the latency so the picture can be
	// rendered during it; errors are still answered after it.
	var req map[string]any
	jsonErr := json.Unmarshal(body, &req)
	prompt, photo := geminiInputs(req)
	gc := obj(field(req, "generationConfig"))
	ic := obj(field(gc, "imageConfig"))
	aspect, size := str(field(ic, "aspectRatio")), str(field(ic, "imageSize"))
	wantImage := false
	for _, m := range arr(field(gc, "responseModalities")) {
		if strings.EqualFold(str(m), "IMAGE") {
			wantImage = true
		}
	}
	if len(arr(field(gc, "responseModalities"))) == 0 {
		wantImage = true
	}
	wh, verr := geminiSize(model, aspect, size)
	var img func() blob
	st, alive := s.begin(r, "gemini", func(st step) {
		if st.name == "ok" && jsonErr == nil && wantImage && verr == "" && prompt != "" {
			img = s.prerender(prompt, photo, wh[0], wh[1], !s.options().PNG)
		}
	})
	if !alive {
		return
	}
	if jsonErr != nil {
		googleErr(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+jsonErr.Error())
		return
	}
	if verr != "" && st.name == "ok" {
		googleErr(w, http.StatusBadRequest, "INVALID_ARGUMENT", verr)
		return
	}
	if prompt == "" && st.name == "ok" {
		googleErr(w, http.StatusBadRequest, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified\n")
		return
	}
	o := s.options()
	usage := map[string]any{
		"promptTokenCount": 264, "candidatesTokenCount": 1290, "totalTokenCount": 1554,
		"promptTokensDetails":     []map[string]any{{"modality": "TEXT", "tokenCount": 6}, {"modality": "IMAGE", "tokenCount": 258}},
		"candidatesTokensDetails": []map[string]any{{"modality": "IMAGE", "tokenCount": 1290}},
	}
	answer := func(cands []map[string]any, extra map[string]any) {
		resp := map[string]any{"usageMetadata": usage, "modelVersion": model, "responseId": s.id("fake")}
		if cands != nil {
			resp["candidates"] = cands
		}
		for k, v := range extra {
			resp[k] = v
		}
		writeJSON(w, http.StatusOK, resp)
	}
	switch st.name {
	case "ok":
		parts := []map[string]any{{"text": "Here is the street light in the scene you described."}}
		if wantImage {
			d, im := s.decoy(), img()
			parts = append(parts,
				map[string]any{"inlineData": map[string]any{"mimeType": d.mime, "data": base64.StdEncoding.EncodeToString(d.data)}, "thought": true},
				map[string]any{"inlineData": map[string]any{"mimeType": im.mime, "data": base64.StdEncoding.EncodeToString(im.data)}})
		}
		answer([]map[string]any{{"content": map[string]any{"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}}, nil)
	case "no_image":
		answer([]map[string]any{{"content": map[string]any{"role": "model", "parts": []map[string]any{
			{"text": "I can't generate that image, but here is a description of the scene instead."}}},
			"finishReason": "NO_IMAGE", "index": 0}}, nil)
	case "blocked":
		usage["candidatesTokenCount"], usage["totalTokenCount"] = 0, 264
		answer(nil, map[string]any{"promptFeedback": map[string]any{"blockReason": "PROHIBITED_CONTENT",
			"safetyRatings": []map[string]any{}}})
	case "blocked_output":
		answer([]map[string]any{{"finishReason": "IMAGE_SAFETY", "index": 0,
			"finishMessage": "Unable to show the generated image. The image was filtered out because it violated Google's Generative AI Prohibited Use policy."}}, nil)
	case "429":
		delay := st.delay
		if delay == 0 {
			delay = time.Duration(o.RetryAfter)
		}
		googleErr(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED",
			fmt.Sprintf("You exceeded your current quota, please check your plan and billing details. Please retry in %gs.", delay.Seconds()),
			map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []map[string]any{{
				"quotaMetric":     "generativelanguage.googleapis.com/generate_content_paid_tier_requests",
				"quotaId":         "GenerateRequestsPerMinutePerProjectPerModel",
				"quotaDimensions": map[string]string{"location": "global", "model": model}, "quotaValue": "10"}}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.Help", "links": []map[string]string{{
				"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": protoDuration(delay)})
	case "429_bare":
		googleErr(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
	case "quota":
		googleErr(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED",
			"You exceeded your current quota, please check your plan and billing details.",
			map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []map[string]any{{
				"quotaMetric":     "generativelanguage.googleapis.com/generate_content_paid_tier_requests",
				"quotaId":         "GenerateRequestsPerDayPerProjectPerModel",
				"quotaDimensions": map[string]string{"location": "global", "model": model}, "quotaValue": "250"}}})
	case "auth":
		geminiBadKey(w)
	case "location":
		googleErr(w, http.StatusBadRequest, "FAILED_PRECONDITION", "User location is not supported for the API use.")
	case "bad_request":
		googleErr(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Request contains an invalid argument.")
	case "model_not_found":
		googleErr(w, http.StatusNotFound, "NOT_FOUND",
			"models/"+model+" is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.")
	case "500":
		googleErr(w, http.StatusInternalServerError, "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting")
	case "502":
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
	case "503":
		googleErr(w, http.StatusServiceUnavailable, "UNAVAILABLE", "The model is overloaded. Please try again later.")
	case "504", "timeout":
		googleErr(w, http.StatusGatewayTimeout, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.")
	case "malformed":
		writeMalformed(w)
	default:
		googleErr(w, http.StatusServiceUnavailable, "UNAVAILABLE", "The service is currently unavailable.")
	}
}

func geminiBadKey(w http.ResponseWriter) {
	googleErr(w, http.StatusBadRequest, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
		map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
			"domain": "googleapis.com", "metadata": map[string]string{"service": "generativelanguage.googleapis.com"}},
		map[string]any{"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
			"message": "API key not valid. Please pass a valid API key."})
}

// geminiInputs returns the text and the first inline image of the request.
func geminiInputs(req map[string]any) (prompt string, photo []byte) {
	var texts []string
	for _, c := range arr(field(req, "contents")) {
		for _, p := range arr(field(obj(c), "parts")) {
			pm := obj(p)
			if t := str(field(pm, "text")); t != "" {
				texts = append(texts, t)
			}
			if id := obj(field(pm, "inlineData")); id != nil && photo == nil {
				photo, _ = base64.StdEncoding.DecodeString(str(field(id, "data")))
			}
		}
	}
	return strings.Join(texts, "\n"), photo
}

// geminiSize validates aspectRatio and imageSize for the model and returns
// the documented output size.
func geminiSize(model, aspect, size string) ([2]int, string) {
	if aspect == "" {
		aspect = "1:1"
	}
	if strings.Contains(model, "2.5-flash-image") {
		wh, ok := gemini25Sizes[aspect]
		if !ok {
			return wh, fmt.Sprintf("Unsupported aspect ratio: %s", aspect)
		}
		if size != "" && size != "1K" {
			return wh, fmt.Sprintf("Image size %s is not supported by this model.", size)
		}
		return wh, ""
	}
	sizes, ok := geminiSizes[aspect]
	if !ok {
		return [2]int{}, fmt.Sprintf("Unsupported aspect ratio: %s", aspect)
	}
	switch size {
	case "", "1K":
		return sizes[0], ""
	case "2K":
		return sizes[1], ""
	case "4K":
		return sizes[2], ""
	}
	return sizes[0], fmt.Sprintf("Invalid value at 'generation_config.image_config.image_size' (%q): must be one of 1K, 2K, 4K.", size)
}

func protoDuration(d time.Duration) string {
	return strings.TrimSuffix(fmt.Sprintf("%.3f", d.Seconds()), ".000") + "s"
}
