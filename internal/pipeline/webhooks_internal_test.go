package pipeline

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/webhook"
)

// TestDescribeDeliveryError: what the delivery log and River keep of a
// failure names the status or the transport error, never the URL, whose
// path may be a credential (Slack-style hook URLs).
func TestDescribeDeliveryError(t *testing.T) {
	t.Parallel()
	const token = "T000-SECRET-TOKEN"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	// A port nobody listens on: the connection is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	loopback, err := webhook.NewClient(webhook.Config{AllowHTTPLoopback: true})
	require.NoError(t, err)
	guarded, err := webhook.NewClient(webhook.Config{})
	require.NoError(t, err)
	for _, tc := range []struct {
		name      string
		client    *webhook.Client
		url       string
		want      string
		retryable bool
	}{
		{"status", loopback, srv.URL + "/services/" + token, "HTTP 503 Service Unavailable", true},
		{"connection refused", loopback, closed + "/services/" + token, "connection refused", true},
		{"blocked target", guarded, "https://10.0.0.1/services/" + token, "webhook_url_blocked", false},
		{"http without the test flag", guarded, srv.URL + "/services/" + token, "webhook_url_invalid", false},
		// A name resolving to an internal address and a name that does not
		// resolve read the same, and neither names the resolver.
		{"internal name", guarded, "https://localhost/services/" + token, "host_unreachable: the host does not resolve to an allowed public address", false},
		{"unknown name", guarded, "https://no-such-host.invalid/services/" + token, "host_unreachable: the host does not resolve to an allowed public address", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := webhook.Deliver(context.Background(), tc.client, tc.url, "whsec_test", webhook.EventPing, []byte(`{}`))
			require.Error(t, err)
			require.Equal(t, tc.retryable, webhook.Retryable(err))
			got := describeDeliveryError(err)
			require.Contains(t, got, tc.want)
			require.NotContains(t, got, token)
			require.NotContains(t, got, "whsec_test")
			require.NotContains(t, got, ":53")
			require.NotContains(t, got, "127.0.0.1")
		})
	}
}
