package fake

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type kieTask struct {
	id, model, param string
	prompt, photoURL string
	w, h             int
	step             string // ok, fail, fail_safety, never, no_image
	polls            int
	created          time.Time
	state            string
	resultJSON       string
	failCode         string
	failMsg          string
	callback         string
	base             string
	done             time.Time
}

func kieJSON(w http.ResponseWriter, status, code int, msg string, data any) {
	body := map[string]any{"code": code, "msg": msg}
	if data != nil {
		body["data"] = data
	}
	writeJSON(w, status, body)
}

func (s *Server) kie(w http.ResponseWriter, r *http.Request, rest string) {
	if strings.HasPrefix(rest, "/files/") && r.Method == http.MethodGet {
		id, _, _ := strings.Cut(strings.TrimPrefix(rest, "/files/"), "/")
		s.mu.Lock()
		f, ok := s.files[id]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", f.mime)
		w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
		_, _ = w.Write(f.data)
		return
	}
	if !s.keyOK(bearer(r)) {
		kieJSON(w, http.StatusUnauthorized, 401, "You do not have access permissions", nil)
		return
	}
	switch {
	case rest == "/api/v1/chat/credit" && r.Method == http.MethodGet:
		kieJSON(w, http.StatusOK, 200, "success", 100)
	case rest == "/api/file-base64-upload" && r.Method == http.MethodPost:
		s.kieUpload(w, r)
	case rest == "/api/v1/jobs/createTask" && r.Method == http.MethodPost:
		s.kieCreate(w, r)
	case rest == "/api/v1/jobs/recordInfo" && r.Method == http.MethodGet:
		s.kieRecord(w, r)
	default:
		kieJSON(w, http.StatusNotFound, 404, "Not Found", nil)
	}
}

func (s *Server) kieUpload(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Base64Data string `json:"base64Data"`
		UploadPath string `json:"uploadPath"`
		FileName   string `json:"fileName"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<20)).Decode(&req); err != nil || req.Base64Data == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "code": 400, "msg": "base64Data is required"})
		return
	}
	mime := "application/octet-stream"
	payload := req.Base64Data
	if meta, data, ok := strings.Cut(req.Base64Data, ","); ok && strings.HasPrefix(meta, "data:") {
		mime, _, _ = strings.Cut(strings.TrimPrefix(meta, "data:"), ";")
		payload = data
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "code": 400, "msg": "invalid base64 data"})
		return
	}
	id := s.id("f")
	s.mu.Lock()
	s.files[id] = blob{data, mime}
	s.mu.Unlock()
	name := orDefault(req.FileName, id)
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "code": 200, "msg": "File uploaded successfully",
		"data": map[string]any{"fileName": name, "filePath": strings.Trim(req.UploadPath+"/"+name, "/"),
			"downloadUrl": baseURL(r) + "/kie/files/" + id + "/" + url.PathEscape(name),
			"fileSize":    len(data), "mimeType": mime, "uploadedAt": s.options().Now().UTC().Format(time.RFC3339)}})
}

func (s *Server) kieCreate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return
	}
	st, alive := s.begin(r, "kie")
	if !alive {
		return
	}
	var req struct {
		Model       string         `json:"model"`
		CallBackURL string         `json:"callBackUrl"`
		Input       map[string]any `json:"input"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		kieJSON(w, http.StatusOK, 422, "Invalid JSON body", nil)
		return
	}
	edit := strings.Contains(req.Model, "edit")
	var urls []any
	if edit {
		urls = arr(req.Input["image_urls"])
	} else {
		urls = arr(req.Input["image_input"])
	}
	prompt := str(req.Input["prompt"])
	switch {
	case st.name != "ok" && st.name != "fail" && st.name != "fail_safety" && st.name != "never" && st.name != "no_image":
	case req.Model == "" || req.Model == "nano-banana-edit" || req.Model == "deepseek-chat":
		kieJSON(w, http.StatusOK, 422, "model name not supported", nil)
		return
	case prompt == "":
		kieJSON(w, http.StatusOK, 422, "input.prompt is required", nil)
		return
	case len(urls) == 0:
		kieJSON(w, http.StatusOK, 422, "input image urls are required", nil)
		return
	}
	switch {
	case st.name == "ok" || st.name == "fail" || st.name == "fail_safety" || st.name == "never" || st.name == "no_image":
	case strings.HasPrefix(st.name, "code"):
		code, _ := strconv.Atoi(strings.TrimPrefix(st.name, "code"))
		kieJSON(w, http.StatusOK, code, kieCodeMsg(code), nil)
		return
	case st.name == "429" || st.name == "429_bare":
		if st.name == "429" {
			s.retryAfter(w, st)
		}
		kieJSON(w, http.StatusTooManyRequests, 429, "The request limit has been exceeded. Please slow down.", nil)
		return
	case st.name == "quota":
		kieJSON(w, http.StatusOK, 402, "Credits insufficient. Please top up your account.", nil)
		return
	case st.name == "auth":
		kieJSON(w, http.StatusUnauthorized, 401, "You do not have access permissions", nil)
		return
	case st.name == "model_not_found":
		kieJSON(w, http.StatusOK, 422, "model name not supported", nil)
		return
	case st.name == "bad_request" || st.name == "location":
		kieJSON(w, http.StatusOK, 422, "The input parameters are invalid", nil)
		return
	case st.name == "blocked" || st.name == "blocked_output":
		st.name = "fail_safety"
	case st.name == "500":
		kieJSON(w, http.StatusOK, 500, "Server error, please try again later", nil)
		return
	case st.name == "malformed":
		writeMalformed(w)
		return
	default: // 502, 503, 504, timeout
		kieJSON(w, http.StatusServiceUnavailable, 455, "Service unavailable: maintenance in progress", nil)
		return
	}
	t := &kieTask{id: s.id("task_" + strings.ReplaceAll(req.Model, "/", "-") + "_"), model: req.Model, param: string(body),
		prompt: prompt, photoURL: str(urls[0]), step: st.name, created: s.options().Now(), state: "waiting",
		callback: req.CallBackURL, base: baseURL(r)}
	var wh [2]int
	if edit {
		wh = gemini25Sizes[orDefault(str(req.Input["image_size"]), "1:1")]
	} else {
		wh, _ = geminiSize(req.Model, str(req.Input["aspect_ratio"]), str(req.Input["resolution"]))
	}
	if wh == [2]int{} {
		wh = [2]int{1024, 1024}
	}
	t.w, t.h = wh[0], wh[1]
	s.mu.Lock()
	s.tasks[t.id] = t
	delay := time.Duration(s.opts.KieCallbackDelay)
	s.mu.Unlock()
	if delay > 0 && t.step != "never" {
		s.wg.Go(func() { s.kieFinishLater(t.id, delay) })
	}
	kieJSON(w, http.StatusOK, 200, "success", map[string]string{"taskId": t.id})
}

func kieCodeMsg(code int) string {
	switch code {
	case 401:
		return "You do not have access permissions"
	case 402:
		return "Credits insufficient"
	case 404:
		return "Not found"
	case 422:
		return "Validation error"
	case 429:
		return "Rate limited"
	case 455:
		return "Service unavailable"
	case 500:
		return "Server error"
	case 501:
		return "Generation failed"
	case 505:
		return "Feature disabled"
	}
	return "Error"
}

// kieFinishLater finishes a task after delay (as a real task finishes
// without being polled) and POSTs its callback.
func (s *Server) kieFinishLater(id string, delay time.Duration) {
	o := s.options()
	if err := o.Sleep(context.Background(), delay); err != nil {
		return
	}
	s.mu.Lock()
	t, ok := s.tasks[id]
	s.mu.Unlock()
	if !ok {
		return
	}
	data := s.kieFinish(t)
	if t.callback == "" {
		return
	}
	b, _ := json.Marshal(map[string]any{"code": 200, "msg": "Image generated successfully.", "data": data})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.callback, bytes.NewReader(b))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if resp, err := s.hc.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s.count("kie", "callback_"+strconv.Itoa(resp.StatusCode))
	} else {
		s.count("kie", "callback_failed")
	}
}

// kieFinish moves t to its final state (rendering the result) and returns
// its recordInfo data.
func (s *Server) kieFinish(t *kieTask) map[string]any {
	s.mu.Lock()
	final := t.state == "success" || t.state == "fail"
	s.mu.Unlock()
	if !final {
		var state, resultJSON, failCode, failMsg string
		switch t.step {
		case "fail":
			state, failCode, failMsg = "fail", "500", "Image generation failed, please try again."
		case "fail_safety":
			state, failCode, failMsg = "fail", "400", "Your content was flagged as sensitive by the safety system (NSFW) and blocked."
		case "no_image":
			state, resultJSON = "success", `{"resultUrls":[]}`
		default:
			photo := s.localFile(t.photoURL)
			img := s.image(t.prompt, photo, t.w, t.h)
			fid := s.id("r")
			s.mu.Lock()
			s.files[fid] = img
			s.mu.Unlock()
			ext := ".jpg"
			if img.mime == "image/png" {
				ext = ".png"
			}
			b, _ := json.Marshal(map[string][]string{"resultUrls": {t.base + "/kie/files/" + fid + "/result" + ext}})
			state, resultJSON = "success", string(b)
		}
		s.mu.Lock()
		if t.state != "success" && t.state != "fail" {
			t.state, t.resultJSON, t.failCode, t.failMsg, t.done = state, resultJSON, failCode, failMsg, s.opts.Now()
		}
		s.mu.Unlock()
	}
	return s.kieData(t)
}

func (s *Server) kieData(t *kieTask) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := map[string]any{"taskId": t.id, "model": t.model, "state": t.state, "param": t.param,
		"resultJson": t.resultJSON, "failCode": t.failCode, "failMsg": t.failMsg,
		"createTime": t.created.UnixMilli(), "updateTime": s.opts.Now().UnixMilli(), "completeTime": nil, "costTime": nil}
	if !t.done.IsZero() {
		d["completeTime"] = t.done.UnixMilli()
		d["costTime"] = t.done.Sub(t.created).Milliseconds()
	}
	return d
}

// localFile returns an uploaded file when url points at this fake.
func (s *Server) localFile(u string) []byte {
	i := strings.Index(u, "/kie/files/")
	if i < 0 {
		return nil
	}
	id, _, _ := strings.Cut(u[i+len("/kie/files/"):], "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[id].data
}

func (s *Server) kieRecord(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("taskId")
	s.mu.Lock()
	t, ok := s.tasks[id]
	polls := s.opts.KiePolls
	if ok && t.state != "success" && t.state != "fail" {
		t.polls++
		switch {
		case t.step == "never" || t.polls < polls-1:
			t.state = []string{"waiting", "queuing", "generating"}[min(t.polls, 2)]
			if t.step == "never" {
				t.state = "generating"
			}
		case t.polls == polls-1:
			t.state = "generating"
		}
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"code": 422, "message": "recordInfo is null", "data": nil})
		return
	}
	s.count("kie", "poll")
	var data map[string]any
	if t.step != "never" && t.polls >= polls {
		data = s.kieFinish(t)
	} else {
		data = s.kieData(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": 200, "message": "success", "data": data})
}
