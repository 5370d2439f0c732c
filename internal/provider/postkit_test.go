package provider_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/provider/fake"
)

var yanqing = provider.PostFacts{Province: "北京市", Prefecture: "北京市", County: "延庆区", Month: 8, Season: "summer",
	Road: "水泥路", Elements: []string{"村民", "三轮车"}, Variants: []string{"清晨晴", "傍晚晴", "正午阴", "夜晚小雨"}}

func requireValidKit(t *testing.T, k provider.PostKit, f provider.PostFacts) {
	t.Helper()
	require.Empty(t, provider.CheckPostKit(k), "%+v", k)
	require.LessOrEqual(t, utf8.RuneCountInString(k.Title), 20)
	n := utf8.RuneCountInString(k.Body)
	require.True(t, n >= 100 && n <= 300, "body has %d characters: %s", n, k.Body)
	require.True(t, len(k.Hashtags) >= 5 && len(k.Hashtags) <= 10, "%v", k.Hashtags)
	require.Contains(t, k.Body, f.County)
	require.Contains(t, k.Body, provider.SeasonZH(f.Season))
	for _, tag := range k.Hashtags {
		require.False(t, strings.HasPrefix(tag, "#"), tag)
	}
}

func TestPostKit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		steps    []string
		key      string
		source   string
		degraded bool
		reason   string
		calls    int
	}{
		{"deepseek", []string{"ok"}, testKey, provider.SourceDeepSeek, false, "", 1},
		{"server error falls back", []string{"500"}, testKey, provider.SourceTemplate, true, "unavailable", 1},
		{"invalid json falls back", []string{"invalid_json"}, testKey, provider.SourceTemplate, true, "no_image: invalid_json_content", 1},
		{"balance falls back", []string{"quota"}, testKey, provider.SourceTemplate, true, "quota_exhausted", 1},
		{"no key uses the template", nil, "", provider.SourceTemplate, false, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, fake.Options{APIKey: testKey, KeepAliveLines: 2})
			if tc.steps != nil {
				require.NoError(t, b.fake.Script("deepseek", tc.steps...))
			}
			e, err := provider.NewEnhancer(provider.DeepSeekConfig{APIKey: tc.key, BaseURL: b.url + "/deepseek",
				PriceInputHitMicros: 6_000, PriceInputMicros: 300_000, PriceOutputMicros: 1_200_000},
				provider.Deps{Registerer: b.reg, Ledger: b.ledger, Clock: b.clock(time.Now)})
			require.NoError(t, err)
			ref := provider.Ref{UserID: "u1", BatchID: "b1", GroupID: "g1"}
			k, err := e.PostKit(context.Background(), provider.PostKitRequest{Facts: yanqing, Tone: "warm", Ref: ref})
			require.NoError(t, err)
			require.Equal(t, tc.source, k.Source)
			require.Equal(t, tc.degraded, k.Degraded)
			require.True(t, strings.HasPrefix(k.Reason, tc.reason), k.Reason)
			requireValidKit(t, k, yanqing)
			// Every DeepSeek call is a ledger row of its own operation.
			rows, settled := b.ledger.rows()
			require.Len(t, rows, tc.calls)
			for _, r := range rows {
				require.Equal(t, provider.OpPostKit, r.Operation)
				require.Equal(t, ref.GroupID, r.Ref.GroupID)
			}
			require.Len(t, settled, tc.calls)
			if tc.source == provider.SourceDeepSeek {
				require.Positive(t, k.CostMicros)
				require.Contains(t, k.Body, "延庆")
			}
		})
	}
}

func TestPostKitRefusesBadRequests(t *testing.T) {
	t.Parallel()
	e, err := provider.NewEnhancer(provider.DeepSeekConfig{}, provider.Deps{})
	require.NoError(t, err)
	_, err = e.PostKit(context.Background(), provider.PostKitRequest{Facts: yanqing, Tone: "shouty"})
	require.ErrorContains(t, err, "tone")
	_, err = e.PostKit(context.Background(), provider.PostKitRequest{Facts: provider.PostFacts{Month: 8}, Tone: "warm"})
	require.Error(t, err)
}

// The template keeps the rules for every tone, long places included.
func TestTemplatePostKit(t *testing.T) {
	t.Parallel()
	long := provider.PostFacts{Province: "新疆维吾尔自治区", Prefecture: "伊犁哈萨克自治州", County: "察布查尔锡伯自治县", Month: 1,
		Season: "winter", Road: "土路", Elements: []string{"村民", "三轮车", "羊群", "拖拉机", "晾晒的玉米"},
		Variants: []string{"清晨晴", "傍晚晴", "正午阴", "夜晚小雪"}}
	bare := provider.PostFacts{Province: "河北省", Prefecture: "邢台市", County: "信都区", Month: 7, Season: "summer", Road: "土路"}
	for _, f := range []provider.PostFacts{yanqing, long, bare} {
		for _, tone := range provider.PostTones {
			k := provider.TemplatePostKit(f, tone.ID)
			requireValidKit(t, k, f)
			require.Equal(t, provider.SourceTemplate, k.Source)
		}
	}
}

func TestCheckPostKitFindsInventedSpecs(t *testing.T) {
	t.Parallel()
	k := provider.TemplatePostKit(yanqing, "warm")
	for _, spec := range []string{"功率60W", "亮度3000流明", "电池20000mAh", "续航12小时", "寿命5年", "防水IP65", "灯杆6米"} {
		bad := k
		bad.Body = strings.Replace(k.Body, "。", "，"+spec+"。", 1)
		require.Equal(t, "invented_spec", provider.CheckPostKit(bad), spec)
	}
}
