package fake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/ludeng/ludeng/internal/provider"
)

func (s *Server) deepSeek(w http.ResponseWriter, r *http.Request, rest string) {
	if !s.keyOK(bearer(r)) {
		oaiErr(w, http.StatusUnauthorized, "Authentication Fails (auth header format should be Bearer sk-...)",
			"authentication_error", "invalid_request_error")
		return
	}
	switch {
	case rest == "/models" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []map[string]any{
			{"id": "deepseek-flash", "object": "model", "owned_by": "deepseek"},
			{"id": "deepseek-v4-pro", "object": "model", "owned_by": "deepseek"},
		}})
		return
	case rest == "/user/balance" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"is_available": true, "balance_infos": []map[string]string{
			{"currency": "CNY", "total_balance": "100.00", "granted_balance": "0.00", "topped_up_balance": "100.00"}}})
		return
	case (rest == "/chat/completions" || rest == "/v1/chat/completions") && r.Method == http.MethodPost:
	default:
		oaiErr(w, http.StatusNotFound, "Not Found", "invalid_request_error", "invalid_request_error")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return
	}
	o := s.options()
	// DeepSeek holds waiting requests open with blank lines before the body;
	// the status line is already 200 by then. Send them before the latency.
	w.Header().Set("Content-Type", "application/json")
	keepAlive := func() {
		w.WriteHeader(http.StatusOK)
		for range o.KeepAliveLines {
			_, _ = io.WriteString(w, "\n")
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
		}
	}
	st, alive := s.begin(r, "deepseek")
	if !alive {
		return
	}
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
		ResponseFormat *struct {
			Type string `json:"type"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		oaiErr(w, http.StatusBadRequest, "Failed to deserialize the JSON body into the target type", "invalid_request_error", "invalid_request_error")
		return
	}
	var user, all string
	for _, m := range req.Messages {
		all += m.Content
		if m.Role == "user" {
			user = m.Content
		}
	}
	jsonMode := req.ResponseFormat != nil && req.ResponseFormat.Type == "json_object"
	if st.name == "ok" && jsonMode && !strings.Contains(strings.ToLower(all), "json") {
		oaiErr(w, http.StatusBadRequest, "Prompt must contain the word 'json' in some form to use 'response_format' of type 'json_object'.",
			"invalid_request_error", "invalid_request_error")
		return
	}
	if st.name == "ok" && (req.Model == "deepseek-chat" || req.Model == "deepseek-reasoner") {
		st.name = "model_not_found"
	}
	answer := func(content, finish string) {
		keepAlive()
		resp := map[string]any{
			"id": s.id("fake-"), "object": "chat.completion", "created": o.Now().Unix(), "model": req.Model,
			"choices": []map[string]any{{"index": 0, "message": map[string]any{"role": "assistant", "content": content},
				"logprobs": nil, "finish_reason": finish}},
			"usage": map[string]any{"prompt_tokens": 120, "completion_tokens": 180, "total_tokens": 300,
				"prompt_tokens_details": map[string]int{"cached_tokens": 64}, "prompt_cache_hit_tokens": 64,
				"prompt_cache_miss_tokens": 56, "completion_tokens_details": map[string]int{"reasoning_tokens": 0}},
			"system_fingerprint": "fp_fake",
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(resp)
	}
	switch st.name {
	case "ok":
		var content string
		if note, ok := postKitNote(user); ok && jsonMode {
			content = note
		} else if jsonMode {
			b, _ := json.Marshal(map[string]string{
				"prompt":   strings.TrimSpace(user) + "，画面细节丰富，光影自然，保持产品外观与照片完全一致",
				"negative": "变形的产品, 模糊, 多余的文字, 水印",
			})
			content = string(b)
		} else {
			content = strings.TrimSpace(user)
		}
		answer(content, "stop")
	case "empty", "no_image":
		answer(strings.Repeat(" ", 8), "stop")
	case "invalid_json":
		answer("Sure! Here is your prompt: a street light", "stop")
	case "resource":
		answer("", "insufficient_system_resource")
	case "blocked", "blocked_output":
		answer("", "content_filter")
	case "auth":
		oaiErr(w, http.StatusUnauthorized, "Authentication Fails, Your api key: ****abcd is invalid", "authentication_error", "invalid_request_error")
	case "quota":
		oaiErr(w, http.StatusPaymentRequired, "Insufficient Balance", "unknown_error", "invalid_request_error")
	case "429", "429_bare":
		if st.name == "429" {
			s.retryAfter(w, st)
		}
		oaiErr(w, http.StatusTooManyRequests, "Rate Limit Reached", "rate_limit_error", "rate_limit_error")
	case "model_not_found":
		oaiErr(w, http.StatusBadRequest, "Model Not Exist", "invalid_request_error", "invalid_request_error")
	case "bad_request", "location":
		oaiErr(w, http.StatusUnprocessableEntity, "Invalid Parameters", "invalid_request_error", "invalid_request_error")
	case "500":
		oaiErr(w, http.StatusInternalServerError, "Server Error", "server_error", "server_error")
	case "503", "502", "504", "timeout":
		oaiErr(w, http.StatusServiceUnavailable, "Server Overloaded", "server_error", "server_error")
	case "malformed":
		keepAlive()
		_, _ = io.WriteString(w, `{"id":"x","choices":[{"message":{"content":"{\"prompt`)
	default:
		oaiErr(w, http.StatusServiceUnavailable, "Server Overloaded", "server_error", "server_error")
	}
}

// postKitNote answers a post kit request (ludeng's note prompt: the user
// message is the facts as JSON with "task":"xiaohongshu_note") the way
// DeepSeek would: a note built from those facts only, as JSON content.
func postKitNote(user string) (string, bool) {
	var f struct {
		provider.PostFacts
		SeasonZH string `json:"season_zh"`
		Task     string `json:"task"`
	}
	if json.Unmarshal([]byte(user), &f) != nil || f.Task != "xiaohongshu_note" {
		return "", false
	}
	title := f.County + "·" + f.SeasonZH + "的夜路"
	if utf8.RuneCountInString(title) > provider.PostTitleMaxRunes {
		title = f.County + "的夜路"
	}
	light := ""
	if len(f.Variants) > 0 {
		light = "，" + strings.Join(f.Variants, "、") + "各一张"
	}
	body := fmt.Sprintf("%d月的%s%s正是%s，这次把太阳能路灯放到了当地的%s旁边%s。"+
		"最喜欢夜里那张，灯一亮整段路都被照亮了，路边的人和车看得清清楚楚。"+
		"做乡村照明这些年，最常被问的就是装上以后到底什么样，这组图就是答案。需要同款场景图的朋友留言告诉我你们村在哪儿～",
		f.Month, f.Province, f.County, f.SeasonZH, f.Road, light)
	b, _ := json.Marshal(map[string]any{"title": title, "body": body,
		"hashtags": []string{"#太阳能路灯", "#乡村照明", "#" + f.County, "#" + f.SeasonZH, "#村道亮化", "#新农村建设"}})
	return string(b), true
}
