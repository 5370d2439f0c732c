package fake

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newTest(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	s := New(opts, nil)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func do(t *testing.T, method, url string, hdr map[string]string, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func TestRoute(t *testing.T) {
	t.Parallel()
	tests := []struct{ path, api, rest string }{
		{"/gemini/v1beta/models/m:generateContent", "gemini", "/v1beta/models/m:generateContent"},
		{"/v1beta/models/m:generateContent", "gemini", "/v1beta/models/m:generateContent"},
		{"/openrouter/api/v1/chat/completions", "openrouter", "/api/v1/chat/completions"},
		{"/api/v1/chat/completions", "openrouter", "/api/v1/chat/completions"},
		{"/openai/v1/images/edits", "openai", "/v1/images/edits"},
		{"/v1/images/edits", "openai", "/v1/images/edits"},
		{"/kie/api/v1/jobs/createTask", "kie", "/api/v1/jobs/createTask"},
		{"/api/v1/jobs/recordInfo", "kie", "/api/v1/jobs/recordInfo"},
		{"/api/v1/chat/credit", "kie", "/api/v1/chat/credit"},
		{"/api/file-base64-upload", "kie", "/api/file-base64-upload"},
		{"/deepseek/chat/completions", "deepseek", "/chat/completions"},
		{"/chat/completions", "deepseek", "/chat/completions"},
		{"/v1/chat/completions", "deepseek", "/v1/chat/completions"},
		{"/nothing", "", "/nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			api, rest := route(tc.path)
			require.Equal(t, tc.api, api)
			require.Equal(t, tc.rest, rest)
		})
	}
}

func TestGeminiWire(t *testing.T) {
	t.Parallel()
	photo := base64.StdEncoding.EncodeToString([]byte("not really a photo"))
	snake := `{"contents":[{"role":"user","parts":[{"text":"dusk, dirt road, summer"},{"inline_data":{"mime_type":"image/jpeg","data":"` + photo + `"}}]}],
		"generation_config":{"response_modalities":["Image"],"image_config":{"aspect_ratio":"3:4","image_size":"2K"}}}`
	camel := `{"contents":[{"parts":[{"text":"dusk"}]}],"generationConfig":{"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"9:16","imageSize":"1K"}}}`
	tests := []struct {
		name       string
		path, body string
		hdr        map[string]string
		status     int
		w, h       int
		errStatus  string
	}{
		{"snake case, key in query", "/v1beta/models/gemini-nano-banana-2.1:generateContent?key=k", snake, nil, 200, 1792, 2400, ""},
		{"camel case, header", "/gemini/v1beta/models/gemini-3-pro-image:generateContent", camel, map[string]string{"x-goog-api-key": "k"}, 200, 768, 1376, ""},
		{"lower-case size", "/gemini/v1beta/models/m:generateContent", strings.Replace(camel, `"1K"`, `"1k"`, 1), map[string]string{"x-goog-api-key": "k"}, 400, 0, 0, "INVALID_ARGUMENT"},
		{"2.5 flash is 1K only", "/gemini/v1beta/models/gemini-2.5-flash-image:generateContent", snake, map[string]string{"x-goog-api-key": "k"}, 400, 0, 0, "INVALID_ARGUMENT"},
		{"no key", "/gemini/v1beta/models/m:generateContent", camel, nil, 400, 0, 0, "INVALID_ARGUMENT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, url := newTest(t, Options{StaticImages: true})
			status, body := do(t, http.MethodPost, url+tc.path, tc.hdr, tc.body)
			require.Equal(t, tc.status, status, string(body))
			if tc.status != 200 {
				var e struct {
					Error struct {
						Code   int    `json:"code"`
						Status string `json:"status"`
					} `json:"error"`
				}
				require.NoError(t, json.Unmarshal(body, &e))
				require.Equal(t, tc.status, e.Error.Code)
				require.Equal(t, tc.errStatus, e.Error.Status)
				return
			}
			var resp struct {
				Candidates []struct {
					Content struct {
						Parts []struct {
							Text       string `json:"text"`
							Thought    bool   `json:"thought"`
							InlineData *struct {
								MimeType string `json:"mimeType"`
								Data     string `json:"data"`
							} `json:"inlineData"`
						} `json:"parts"`
					} `json:"content"`
					FinishReason string `json:"finishReason"`
				} `json:"candidates"`
				UsageMetadata struct {
					CandidatesTokenCount int `json:"candidatesTokenCount"`
				} `json:"usageMetadata"`
			}
			require.NoError(t, json.Unmarshal(body, &resp))
			parts := resp.Candidates[0].Content.Parts
			require.Len(t, parts, 3)
			require.True(t, parts[1].Thought, "a thought decoy comes first")
			img, err := base64.StdEncoding.DecodeString(parts[2].InlineData.Data)
			require.NoError(t, err)
			cfg, format, err := image.DecodeConfig(bytes.NewReader(img))
			require.NoError(t, err)
			require.Equal(t, "jpeg", format)
			require.Equal(t, "image/jpeg", parts[2].InlineData.MimeType)
			require.Equal(t, [2]int{tc.w, tc.h}, [2]int{cfg.Width, cfg.Height})
			require.Equal(t, 1290, resp.UsageMetadata.CandidatesTokenCount)
			require.NotContains(t, string(body), "inline_data", "responses are camelCase")
		})
	}
}

func TestControlEndpoints(t *testing.T) {
	t.Parallel()
	_, url := newTest(t, Options{StaticImages: true})
	status, body := do(t, http.MethodPost, url+"/_fake/scenarios", nil, `{"api":"gemini","steps":["503","429:1s","ok"]}`)
	require.Equal(t, 200, status, string(body))
	require.JSONEq(t, `{"pending":{"gemini":3}}`, string(body))
	status, _ = do(t, http.MethodPost, url+"/_fake/scenarios", nil, `{"api":"gemini","steps":["explode"]}`)
	require.Equal(t, 400, status)
	key := map[string]string{"x-goog-api-key": "k"}
	req := `{"contents":[{"parts":[{"text":"noon"}]}]}`
	codes := []int{}
	for range 3 {
		s, _ := do(t, http.MethodPost, url+"/v1beta/models/m:generateContent", key, req)
		codes = append(codes, s)
	}
	require.Equal(t, []int{503, 429, 200}, codes)
	status, body = do(t, http.MethodGet, url+"/_fake/stats", nil, "")
	require.Equal(t, 200, status)
	var stats map[string]map[string]int
	require.NoError(t, json.Unmarshal(body, &stats))
	require.Equal(t, map[string]int{"503": 1, "429": 1, "ok": 1}, stats["gemini"])
	status, _ = do(t, http.MethodPost, url+"/_fake/reset", nil, "")
	require.Equal(t, 200, status)
	_, body = do(t, http.MethodGet, url+"/_fake/stats", nil, "")
	require.NoError(t, json.Unmarshal(body, &stats))
	require.Empty(t, stats["gemini"])
	status, body = do(t, http.MethodPost, url+"/_fake/config", nil, `{"failures":{"503":1},"latency":{"base":"1ms"}}`)
	require.Equal(t, 200, status, string(body))
	s, _ := do(t, http.MethodPost, url+"/v1beta/models/m:generateContent", key, req)
	require.Equal(t, 503, s, "failure rate 1 always fails")
}

func TestDeepSeekKeepAlive(t *testing.T) {
	t.Parallel()
	_, url := newTest(t, Options{KeepAliveLines: 4})
	status, body := do(t, http.MethodPost, url+"/chat/completions", map[string]string{"Authorization": "Bearer sk-1"},
		`{"model":"deepseek-flash","messages":[{"role":"system","content":"answer in json"},{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`)
	require.Equal(t, 200, status)
	require.True(t, bytes.HasPrefix(body, []byte("\n\n\n\n{")), "blank keep-alive lines precede the body")
	var resp struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	require.Contains(t, resp.Choices[0].Message.Content, `"prompt"`)
	// JSON mode without the word "json" is refused like the real API.
	status, _ = do(t, http.MethodPost, url+"/chat/completions", map[string]string{"Authorization": "Bearer sk-1"},
		`{"model":"deepseek-flash","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`)
	require.Equal(t, 400, status)
	status, _ = do(t, http.MethodPost, url+"/chat/completions", map[string]string{"Authorization": "Bearer sk-1"},
		`{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, 400, status, "retired model ids fail")
}

func TestKieWire(t *testing.T) {
	t.Parallel()
	_, url := newTest(t, Options{StaticImages: true, KiePolls: 3})
	auth := map[string]string{"Authorization": "Bearer k"}
	status, body := do(t, http.MethodPost, url+"/api/file-base64-upload", auth,
		`{"base64Data":"data:image/png;base64,`+base64.StdEncoding.EncodeToString([]byte("png"))+`","uploadPath":"p","fileName":"a.png"}`)
	require.Equal(t, 200, status, string(body))
	var up struct {
		Success bool `json:"success"`
		Data    struct {
			DownloadURL string `json:"downloadUrl"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &up))
	require.True(t, up.Success)
	status, body = do(t, http.MethodPost, url+"/api/v1/jobs/createTask", auth,
		`{"model":"google/nano-banana-edit","input":{"prompt":"dusk","image_urls":["`+up.Data.DownloadURL+`"],"image_size":"3:4"}}`)
	require.Equal(t, 200, status)
	var created struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
		Data struct {
			TaskID string `json:"taskId"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &created))
	require.Equal(t, 200, created.Code)
	var states []string
	var last struct {
		Code int `json:"code"`
		Data struct {
			State      string `json:"state"`
			ResultJSON string `json:"resultJson"`
			Param      string `json:"param"`
		} `json:"data"`
	}
	for range 3 {
		_, body = do(t, http.MethodGet, url+"/api/v1/jobs/recordInfo?taskId="+created.Data.TaskID, auth, "")
		require.NoError(t, json.Unmarshal(body, &last))
		states = append(states, last.Data.State)
	}
	require.Equal(t, []string{"queuing", "generating", "success"}, states)
	var result struct {
		ResultURLs []string `json:"resultUrls"`
	}
	require.NoError(t, json.Unmarshal([]byte(last.Data.ResultJSON), &result), "resultJson is a JSON string")
	require.True(t, json.Valid([]byte(last.Data.Param)))
	status, img := do(t, http.MethodGet, result.ResultURLs[0], nil, "")
	require.Equal(t, 200, status)
	cfg, _, err := image.DecodeConfig(bytes.NewReader(img))
	require.NoError(t, err)
	require.Equal(t, [2]int{864, 1184}, [2]int{cfg.Width, cfg.Height})
	// Body codes inside HTTP 200.
	f, url2 := newTest(t, Options{})
	require.NoError(t, f.Script("kie", "code402"))
	status, body = do(t, http.MethodPost, url2+"/kie/api/v1/jobs/createTask", auth, `{"model":"m","input":{"prompt":"x","image_input":["u"]}}`)
	require.Equal(t, 200, status)
	require.JSONEq(t, `{"code":402,"msg":"Credits insufficient"}`, string(body))
}

func TestRun(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, addr, nil, Options{}) }()
	var status int
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/_fake/stats")
		if err != nil {
			return false
		}
		resp.Body.Close()
		status = resp.StatusCode
		return true
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 200, status)
	cancel()
	require.NoError(t, <-done)
}

// TestRenderDuringLatency: an image call starts rendering its picture
// before waiting the configured latency (the latency is the whole answer
// time, as with a real API, not latency + render); a failure step renders
// nothing. Sleeps and render starts are recorded; nothing is slept.
func TestRenderDuringLatency(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var events []string
	sleep := func(_ context.Context, d time.Duration) error {
		mu.Lock()
		events = append(events, "sleep "+d.String())
		mu.Unlock()
		return nil
	}
	f := New(Options{Latency: Latency{Base: Duration(2 * time.Second)}, Sleep: sleep}, nil)
	f.onPrerender = func() {
		mu.Lock()
		events = append(events, "render")
		mu.Unlock()
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	url := srv.URL
	auth := map[string]string{"x-goog-api-key": "k"}
	body := `{"contents":[{"parts":[{"text":"dusk, dirt road"}]}],"generationConfig":{"imageConfig":{"aspectRatio":"1:1"}}}`
	path := url + "/gemini/v1beta/models/gemini-3-pro-image:generateContent"

	status, resp := do(t, http.MethodPost, path, auth, body)
	require.Equal(t, 200, status, string(resp))
	require.Contains(t, string(resp), `"mimeType":"image/jpeg"`)
	require.Equal(t, []string{"render", "sleep 2s"}, events)

	events = nil
	require.NoError(t, f.Script("gemini", "503"))
	status, _ = do(t, http.MethodPost, path, auth, body)
	require.Equal(t, 503, status)
	require.Equal(t, []string{"sleep 2s"}, events)

	// An invalid body is still answered after the latency.
	events = nil
	status, _ = do(t, http.MethodPost, path, auth, `{"contents":`)
	require.Equal(t, 400, status)
	require.Equal(t, []string{"sleep 2s"}, events)
}

// TestLoadAndAccountLimits: the fake measures what a client sends (most
// calls in flight, most calls in any minute) and, like the real API,
// refuses calls over the account's limits with a 429.
func TestLoadAndAccountLimits(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	_, url := newTest(t, Options{StaticImages: true, Latency: Latency{Base: Duration(150 * time.Millisecond)}, Now: clock,
		Limits: map[string]AccountLimits{"gemini": {Concurrency: 3, PerMinute: 7}}})
	key := map[string]string{"x-goog-api-key": "k"}
	req := `{"contents":[{"parts":[{"text":"noon"}]}]}`
	call := func() int {
		s, _ := do(t, http.MethodPost, url+"/v1beta/models/m:generateContent", key, req)
		return s
	}
	load := func() Load {
		_, body := do(t, http.MethodGet, url+"/_fake/load", nil, "")
		var l map[string]Load
		require.NoError(t, json.Unmarshal(body, &l))
		return l["gemini"]
	}
	// Four at once against a concurrency of 3: one is refused.
	codes := make([]int, 4)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() { codes[i] = call() })
	}
	wg.Wait()
	n429 := 0
	for _, c := range codes {
		if c == 429 {
			n429++
		}
	}
	require.Equal(t, 1, n429, codes)
	l := load()
	require.Equal(t, Load{Calls: 4, MaxConcurrency: 4, MaxPerMinute: 4, Rejected: 1}, l)

	// Three more in the same minute reach 7; the eighth is over.
	for range 3 {
		require.Equal(t, 200, call())
	}
	require.Equal(t, 429, call())
	require.Equal(t, 8, load().MaxPerMinute)
	// A minute later the window has room again, and the maximum stays.
	advance(time.Minute)
	require.Equal(t, 200, call())
	l = load()
	require.Equal(t, 8, l.MaxPerMinute)
	require.Equal(t, 2, l.Rejected)
	require.Zero(t, l.InFlight)
	// GETs (model listing) are not main calls.
	do(t, http.MethodGet, url+"/v1beta/models", key, "")
	require.Equal(t, 9, load().Calls)
}
