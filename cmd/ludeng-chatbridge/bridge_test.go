package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

const payload = `{"version":"4","status":"firing","receiver":"oncall","commonLabels":{"alertname":"LudengDown","node":"app1","severity":"critical"},
"externalURL":"http://am","alerts":[{"status":"firing","labels":{"alertname":"LudengDown","node":"app1"},
"annotations":{"summary":"ludeng 10.0.0.5:8080 is down","description":"Prometheus cannot scrape it.","runbook_url":"https://example.com/ops#ludengdown"},
"startsAt":"2026-12-05T04:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}`

type testBundle struct {
	bridge  *httptest.Server
	secrets string
	got     chan map[string]any
	reply   string
}

func setup(t *testing.T, reply string) *testBundle {
	t.Helper()
	tb := &testBundle{secrets: t.TempDir(), got: make(chan map[string]any, 1), reply: reply}
	robot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err == nil {
			tb.got <- m
		}
		_, _ = io.WriteString(w, tb.reply)
	}))
	t.Cleanup(robot.Close)
	for _, f := range []string{"wecom-oncall.url", "feishu-providers.url"} {
		require.NoError(t, os.WriteFile(filepath.Join(tb.secrets, f), []byte(robot.URL+"/send?key=SECRETKEY\n"), 0o600))
	}
	b := &bridge{
		secrets: tb.secrets,
		client:  &http.Client{Timeout: 5 * time.Second},
		logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		now:     func() time.Time { return time.Unix(1764900000, 0) },
	}
	tb.bridge = httptest.NewServer(b.routes())
	t.Cleanup(tb.bridge.Close)
	return tb
}

func post(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestWeComMarkdown(t *testing.T) {
	t.Parallel()
	tb := setup(t, `{"errcode":0,"errmsg":"ok"}`)
	require.Equal(t, http.StatusOK, post(t, tb.bridge.URL+"/wecom/oncall", payload))
	m := <-tb.got
	require.Equal(t, "markdown", m["msgtype"])
	content := m["markdown"].(map[string]any)["content"].(string)
	require.Contains(t, content, "**FIRING LudengDown on app1 · critical**")
	require.Contains(t, content, "> FIRING: ludeng 10.0.0.5:8080 is down")
	require.Contains(t, content, "[Runbook](https://example.com/ops#ludengdown)")
}

func TestFeishuTextSigned(t *testing.T) {
	t.Parallel()
	tb := setup(t, `{"code":0,"msg":"success"}`)
	require.NoError(t, os.WriteFile(filepath.Join(tb.secrets, "feishu-providers.secret"), []byte("s3cret\n"), 0o600))
	require.Equal(t, http.StatusOK, post(t, tb.bridge.URL+"/feishu/providers", payload))
	m := <-tb.got
	require.Equal(t, "text", m["msg_type"])
	require.Contains(t, m["content"].(map[string]any)["text"], "Runbook: https://example.com/ops#ludengdown")
	require.Equal(t, "1764900000", m["timestamp"])
	// Feishu's documented signature for this timestamp and secret.
	require.Equal(t, feishuSign("1764900000", "s3cret"), m["sign"])
	require.NotEqual(t, feishuSign("1764900000", "other"), m["sign"])
}

func TestRefusalsAndBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, reply, path, body string
		want                    int
	}{
		{"robot refuses (bad key)", `{"errcode":93000,"errmsg":"invalid webhook url"}`, "/wecom/oncall", payload, http.StatusBadGateway},
		{"feishu refuses", `{"code":19021,"msg":"sign match fail"}`, "/feishu/providers", payload, http.StatusBadGateway},
		{"answer without a code", `{}`, "/wecom/oncall", payload, http.StatusBadGateway},
		{"no URL file for the robot", `{"errcode":0}`, "/wecom/nobody", payload, http.StatusBadGateway},
		{"name with a path", `{"errcode":0}`, "/wecom/..%2fx", payload, http.StatusNotFound},
		{"not a notification", `{"errcode":0}`, "/wecom/oncall", `{"alerts":[]}`, http.StatusBadRequest},
		{"unknown kind", `{"errcode":0}`, "/dingtalk/oncall", payload, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, tt.reply)
			require.Equal(t, tt.want, post(t, tb.bridge.URL+tt.path, tt.body))
		})
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	t.Parallel()
	s := strings.Repeat("告警", 1000)
	got := truncate(s, 100)
	require.LessOrEqual(t, len(got), 100)
	require.True(t, strings.HasSuffix(got, "…"))
	require.True(t, utf8.ValidString(got))
	require.Equal(t, "short", truncate("short", 100))
}
