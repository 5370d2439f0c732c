package pool

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalisation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fn   func(string) string
		in   string
		want string
	}{
		{normPinyin, "Xi'an Shi", "xianshi"},
		{normPinyin, "Lüchun Xian", "luchunxian"},
		{normPinyin, "lvchun", "luchun"},
		{normPinyin, "Xīngtái", "xingtai"},
		{normPinyin, "ＸＩＮＧ　ＴＡＩ", "xingtai"},
		{fold, "ＡＢ　１２", "ab 12"},
		{stemHanzi, "信都区", "信都"},
		{stemHanzi, "围场满族蒙古族自治县", "围场满族蒙古族"},
		{stemHanzi, "县", ""},
		{stemHanzi, "北京", ""},
		{stemPinyin, "Xindu Qu", "xindu"},
		{stemPinyin, "Weichang Manzu Mongolzu Zizhixian", "weichangmanzumongolzu"},
		{stemPinyin, "Hebei", ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.fn(tt.in), tt.in)
	}
	require.Equal(t, []string{"xingtaixian", "xian"}, wordStarts("Xingtai Xian"))
	require.Equal(t, []string{"河北", "xingtai", "12"}, joinLatinRuns([]string{"河北", "xing", "tai", "12"}))
	require.True(t, isLatin("Xi'an"))
	require.True(t, isLatin("lü"))
	require.False(t, isLatin("x1"))
	require.False(t, isLatin("'"))
}
