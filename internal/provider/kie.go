package provider

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// kie speaks kie.ai's submit-then-poll API: the photo goes up through the
// base64 upload API (generation only takes public URLs), createTask starts
// the job, recordInfo is polled with growing intervals, and an optional
// callback only wakes the poller early — the poll stays authoritative, so a
// forged callback can do no more than cause one extra poll.
type kie struct {
	cfg ProviderConfig
	hc  *http.Client
	clk Clock

	mu      sync.Mutex
	uploads map[string]kieUpload // photo SHA-256 → hosted URL
	waiters map[string]chan struct{}
}

type kieUpload struct {
	url string
	at  time.Time
}

// Uploaded files are deleted after 3 days; reuse them for 2.
const kieUploadTTL = 48 * time.Hour

func newKie(cfg ProviderConfig, hc *http.Client, clk Clock) *kie {
	return &kie{cfg: cfg, hc: hc, clk: clk, uploads: map[string]kieUpload{}, waiters: map[string]chan struct{}{}}
}

// kieEnvelope is every kie answer: code inside the body, msg or message.
type kieEnvelope struct {
	Success *bool           `json:"success"`
	Code    int             `json:"code"`
	Msg     string          `json:"msg"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

type kieTask struct {
	TaskID     string `json:"taskId"`
	State      string `json:"state"`
	ResultJSON string `json:"resultJson"`
	FailCode   any    `json:"failCode"`
	FailMsg    string `json:"failMsg"`
}

func (k *kie) generate(ctx context.Context, req Request, tier Tier) (rawImage, error) {
	if len(req.Photo) == 0 {
		return rawImage{}, &Error{Class: ClassBadRequest, Code: "photo_required", Message: "kie edits need the product photo"}
	}
	photoURL, err := k.upload(ctx, req.Photo, req.PhotoMIME)
	if err != nil {
		return rawImage{}, err
	}
	taskID, err := k.createTask(ctx, req, tier, photoURL)
	if err != nil {
		return rawImage{}, err
	}
	wake := k.wait(taskID)
	defer k.unwait(taskID)
	resultURL, err := k.poll(ctx, taskID, wake)
	if err != nil {
		return rawImage{}, err
	}
	// Result URLs expire: download at once, without our key (another host).
	ans, err := do(ctx, k.hc, httpCall{method: http.MethodGet, url: resultURL})
	if err != nil {
		return rawImage{}, err
	}
	if ans.status != http.StatusOK {
		return rawImage{}, &Error{Class: ClassUnavailable, Status: ans.status, Code: "result_download_failed"}
	}
	mime := strings.TrimSpace(strings.Split(ans.header.Get("Content-Type"), ";")[0])
	if !strings.HasPrefix(mime, "image/") {
		mime = http.DetectContentType(ans.body)
	}
	return rawImage{data: ans.body, mime: mime}, nil
}

func (k *kie) upload(ctx context.Context, photo []byte, mime string) (string, error) {
	sum := sha256.Sum256(photo)
	key := hex.EncodeToString(sum[:])
	now := k.clk.Now()
	k.mu.Lock()
	if u, ok := k.uploads[key]; ok && now.Sub(u.at) < kieUploadTTL {
		k.mu.Unlock()
		return u.url, nil
	}
	k.mu.Unlock()

	ans, err := do(ctx, k.hc, httpCall{
		method: http.MethodPost,
		url:    k.cfg.UploadURL + "/api/file-base64-upload",
		header: http.Header{"Authorization": {"Bearer " + k.cfg.APIKey}},
		jsonIn: map[string]string{
			"base64Data": dataURL(mime, photo),
			"uploadPath": "ludeng",
			"fileName":   key[:16] + extFor(mime),
		},
	})
	if err != nil {
		return "", err
	}
	var data struct {
		DownloadURL string `json:"downloadUrl"`
	}
	if err := k.envelope(ans, &data); err != nil {
		return "", err
	}
	if data.DownloadURL == "" {
		return "", malformed(ans.status, errors.New("upload answer without downloadUrl"))
	}
	k.mu.Lock()
	if len(k.uploads) > 256 {
		for h, u := range k.uploads {
			if now.Sub(u.at) >= kieUploadTTL || len(k.uploads) > 256 {
				delete(k.uploads, h)
			}
		}
	}
	k.uploads[key] = kieUpload{url: data.DownloadURL, at: now}
	k.mu.Unlock()
	return data.DownloadURL, nil
}

func (k *kie) createTask(ctx context.Context, req Request, tier Tier, photoURL string) (string, error) {
	input := map[string]any{"prompt": req.Prompt}
	if strings.Contains(k.cfg.Model, "edit") {
		// google/nano-banana-edit: image_urls + image_size (an aspect), 1K only.
		input["image_urls"] = []string{photoURL}
		input["image_size"] = tier.Aspect
		input["output_format"] = "jpeg"
	} else {
		// nano-banana-2 / -pro: image_input + aspect_ratio + resolution.
		input["image_input"] = []string{photoURL}
		input["aspect_ratio"] = tier.Aspect
		input["resolution"] = tier.Size
		input["output_format"] = "jpg"
	}
	body := map[string]any{"model": k.cfg.Model, "input": input}
	if k.cfg.CallbackURL != "" && k.cfg.CallbackSecret != "" {
		body["callBackUrl"] = k.cfg.CallbackURL + "/api/v1/hooks/kie/" + url.PathEscape(k.cfg.CallbackSecret)
	}
	ans, err := do(ctx, k.hc, httpCall{
		method: http.MethodPost,
		url:    k.cfg.BaseURL + "/api/v1/jobs/createTask",
		header: http.Header{"Authorization": {"Bearer " + k.cfg.APIKey}},
		jsonIn: body,
	})
	if err != nil {
		return "", err
	}
	var data kieTask
	if err := k.envelope(ans, &data); err != nil {
		return "", err
	}
	if data.TaskID == "" {
		return "", malformed(ans.status, errors.New("createTask answer without taskId"))
	}
	return data.TaskID, nil
}

// poll asks recordInfo until the task ends, waiting PollInterval growing
// ×1.5 up to PollMaxInterval between polls, or less when the callback wakes
// it. The attempt's context deadline bounds the whole task.
func (k *kie) poll(ctx context.Context, taskID string, wake <-chan struct{}) (string, error) {
	interval := k.cfg.PollInterval
	for {
		woken, err := k.sleep(ctx, interval, wake)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return "", &Error{Class: ClassUnavailable, Code: "task_timeout", Message: "task " + taskID + " did not finish in time"}
			}
			return "", err
		}
		ans, err := do(ctx, k.hc, httpCall{
			method: http.MethodGet,
			url:    k.cfg.BaseURL + "/api/v1/jobs/recordInfo?taskId=" + url.QueryEscape(taskID),
			header: http.Header{"Authorization": {"Bearer " + k.cfg.APIKey}},
		})
		if err != nil {
			var pe *Error
			if errors.As(err, &pe) && pe.Code == "timeout" && ctx.Err() != nil {
				return "", &Error{Class: ClassUnavailable, Code: "task_timeout", Message: "task " + taskID + " did not finish in time"}
			}
			return "", err
		}
		var t kieTask
		if err := k.envelope(ans, &t); err != nil {
			var pe *Error
			// A lost poll is not a lost task: keep polling through 5xx and 429.
			if errors.As(err, &pe) && (pe.Class == ClassUnavailable || pe.Class == ClassRateLimited) {
				interval = k.next(interval)
				continue
			}
			// An unknown task says nothing about the model or the request:
			// it is this task that is lost.
			if pe != nil && (pe.Class == ClassBadRequest || pe.Class == ClassModelGone) {
				pe.Class, pe.Code = ClassUnavailable, "task_not_found"
			}
			return "", err
		}
		switch t.State {
		case "success":
			var r struct {
				ResultURLs []string `json:"resultUrls"`
			}
			if err := json.Unmarshal([]byte(t.ResultJSON), &r); err != nil {
				return "", malformed(ans.status, fmt.Errorf("resultJson: %w", err))
			}
			if len(r.ResultURLs) == 0 {
				return "", &Error{Class: ClassNoImage, Status: ans.status, Code: "no_result_urls"}
			}
			return r.ResultURLs[0], nil
		case "fail":
			return "", kieFailure(ans.status, t)
		}
		if woken {
			// The wake channel is closed now; later sleeps must not return at once.
			wake = nil
		} else {
			interval = k.next(interval)
		}
	}
}

func (k *kie) next(d time.Duration) time.Duration {
	d = d * 3 / 2
	return min(d, k.cfg.PollMaxInterval)
}

// sleep waits d or until the callback for this task arrives.
func (k *kie) sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) (woken bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-wake:
			woken = true
			cancel()
		case <-sctx.Done():
		}
	}()
	err = k.clk.Sleep(sctx, d)
	cancel()
	<-done
	if woken && ctx.Err() == nil {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, ctx.Err()
}

func kieFailure(status int, t kieTask) *Error {
	code := strings.Trim(fmt.Sprint(t.FailCode), `"`)
	if code == "<nil>" {
		code = ""
	}
	e := &Error{Class: ClassNoImage, Status: status, Code: cmpOr(code, "task_failed"), Message: truncate(t.FailMsg, 300)}
	lower := strings.ToLower(t.FailMsg)
	for _, w := range []string{"safety", "sensitive", "nsfw", "policy", "prohibited", "flagged", "moderation"} {
		if strings.Contains(lower, w) {
			e.Class = ClassBlocked
		}
	}
	return e
}

// envelope checks both the HTTP status and the body code (kie reports most
// failures as HTTP 200 with a non-200 code) and decodes data into v.
func (k *kie) envelope(ans httpAnswer, v any) error {
	var env kieEnvelope
	jerr := json.Unmarshal(ans.body, &env)
	if ans.status != http.StatusOK {
		code := ans.status
		if jerr == nil && env.Code != 0 && env.Code != 200 {
			code = env.Code
		}
		return k.classify(ans, code, cmpOr(env.Msg, env.Message))
	}
	if jerr != nil {
		return malformed(ans.status, jerr)
	}
	if env.Code != 200 {
		return k.classify(ans, env.Code, cmpOr(env.Msg, env.Message))
	}
	if v != nil && len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, v); err != nil {
			return malformed(ans.status, err)
		}
	}
	return nil
}

func (k *kie) classify(ans httpAnswer, code int, msg string) *Error {
	e := &Error{Status: ans.status, Code: strconv.Itoa(code), Message: truncate(msg, 300)}
	switch code {
	case 401, 403:
		e.Class = ClassAuth
	case 402:
		e.Class = ClassQuotaExhausted
	case 404:
		e.Class = ClassModelGone
	case 422:
		e.Class = ClassBadRequest
		if strings.Contains(strings.ToLower(msg), "model") {
			e.Class = ClassModelGone
		}
	case 429:
		e.Class = ClassRateLimited
		e.RetryAfter = retryAfter(ans.header, k.clk.Now())
	case 505:
		// "feature disabled" for this account/model.
		e.Class = ClassBadRequest
	default:
		e.Class = statusClass(code)
		if code >= 500 || code == 455 {
			e.Class = ClassUnavailable
			e.RetryAfter = retryAfter(ans.header, k.clk.Now())
		}
	}
	return e
}

func (k *kie) wait(taskID string) <-chan struct{} {
	ch := make(chan struct{})
	k.mu.Lock()
	k.waiters[taskID] = ch
	k.mu.Unlock()
	return ch
}

func (k *kie) unwait(taskID string) {
	k.mu.Lock()
	delete(k.waiters, taskID)
	k.mu.Unlock()
}

// callback handles kie's POST to /api/v1/hooks/kie/{secret}: it checks the
// secret and wakes the poller of the task. Unknown tasks are accepted and
// ignored (another node may own them; its poll will find the result).
func (k *kie) callback(secret string, body io.Reader) error {
	if k.cfg.CallbackSecret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(k.cfg.CallbackSecret)) != 1 {
		return errHookSecret
	}
	var env kieEnvelope
	if err := json.NewDecoder(io.LimitReader(body, 1<<20)).Decode(&env); err != nil {
		return fmt.Errorf("%w: %v", errHookBody, err)
	}
	var t kieTask
	if err := json.Unmarshal(env.Data, &t); err != nil || t.TaskID == "" {
		return fmt.Errorf("%w: no data.taskId", errHookBody)
	}
	k.mu.Lock()
	if ch, ok := k.waiters[t.TaskID]; ok {
		close(ch)
		delete(k.waiters, t.TaskID)
	}
	k.mu.Unlock()
	return nil
}

var (
	errHookSecret = errors.New("kie hook: unknown secret")
	errHookBody   = errors.New("kie hook: bad body")
)

func (k *kie) probe(ctx context.Context) error {
	ans, err := do(ctx, k.hc, httpCall{
		method: http.MethodGet,
		url:    k.cfg.BaseURL + "/api/v1/chat/credit",
		header: http.Header{"Authorization": {"Bearer " + k.cfg.APIKey}},
	})
	if err != nil {
		return err
	}
	return k.envelope(ans, nil)
}
