package batchview

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/store"
)

func TestSumUsage(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	money := func(m int64) Money { return Money{Amount: strconv.FormatInt(m, 10), Currency: "CNY"} }
	ptr := func(v int64) *int64 { return &v }
	// 2026-12-05 10:00 in Shanghai.
	now := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
	rows := []store.UsageRow{
		{Provider: "gemini", At: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), CostMicros: 1000, Images: 1}, // last month
		{Provider: "openai", At: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC), CostMicros: 200, Images: 2},
		{Provider: "gemini", At: time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC), CostMicros: 300, Images: 3},
		// 00:30 on the 5th in Shanghai, still the 4th in UTC: today.
		{Provider: "gemini", At: time.Date(2026, 12, 4, 16, 30, 0, 0, time.UTC), CostMicros: 40, Images: 4},
		{Provider: "gemini", At: time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC), CostMicros: 5, Images: 5},
	}
	lastMonth := time.Date(2026, 11, 30, 0, 0, 0, 0, shanghai)
	tests := []struct {
		name                   string
		rows                   []store.UsageRow
		since                  *time.Time
		daily, monthly         *int64
		wantItems              []UsageRow
		wantToday, wantMonth   string
		wantLeftDay, wantLeftM *string
	}{
		{name: "no rows", wantItems: []UsageRow{}, wantToday: "0", wantMonth: "0"},
		{name: "this month by day then provider", rows: rows,
			wantItems: []UsageRow{
				{Day: "2026-12-02", Provider: "gemini", Cost: money(300), Images: 3},
				{Day: "2026-12-02", Provider: "openai", Cost: money(200), Images: 2},
				{Day: "2026-12-05", Provider: "gemini", Cost: money(45), Images: 9},
			},
			wantToday: "45", wantMonth: "545"},
		{name: "since last month: its rows listed, not counted in this month", rows: rows, since: &lastMonth,
			wantItems: []UsageRow{
				{Day: "2026-11-30", Provider: "gemini", Cost: money(1000), Images: 1},
				{Day: "2026-12-02", Provider: "gemini", Cost: money(300), Images: 3},
				{Day: "2026-12-02", Provider: "openai", Cost: money(200), Images: 2},
				{Day: "2026-12-05", Provider: "gemini", Cost: money(45), Images: 9},
			},
			wantToday: "45", wantMonth: "545"},
		{name: "budgets left, never below zero", rows: rows, daily: ptr(30), monthly: ptr(1000),
			wantItems: []UsageRow{
				{Day: "2026-12-02", Provider: "gemini", Cost: money(300), Images: 3},
				{Day: "2026-12-02", Provider: "openai", Cost: money(200), Images: 2},
				{Day: "2026-12-05", Provider: "gemini", Cost: money(45), Images: 9},
			},
			wantToday: "45", wantMonth: "545", wantLeftDay: new("0"), wantLeftM: new("455")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := usagePeriod(now, shanghai, tc.since)
			got := sumUsage(tc.rows, p, money, tc.daily, tc.monthly)
			require.Equal(t, tc.wantItems, got.Items)
			require.Equal(t, tc.wantToday, got.SpentToday.Amount)
			require.Equal(t, tc.wantMonth, got.SpentThisMonth.Amount)
			if tc.wantLeftDay == nil {
				require.Nil(t, got.RemainingToday)
			} else {
				require.Equal(t, *tc.wantLeftDay, got.RemainingToday.Amount)
			}
			if tc.wantLeftM == nil {
				require.Nil(t, got.RemainingThisMonth)
			} else {
				require.Equal(t, *tc.wantLeftM, got.RemainingThisMonth.Amount)
			}
		})
	}
}

func TestUsagePeriodFrom(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	early := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	late := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	month := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		since *time.Time
		want  time.Time
	}{
		{"default: the month", nil, month},
		{"earlier since: from since", &early, early},
		{"later since: still the whole month, for its total", &late, month},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, usagePeriod(now, time.UTC, tc.since).from())
		})
	}
}
