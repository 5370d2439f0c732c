package pool_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSearch(t *testing.T) {
	t.Parallel()
	s := smallSnapshot(t)
	tests := []struct {
		q         string
		want      []string // codes in order
		wantField string   // of the first match
		wantText  string
	}{
		// Acceptance 3 of issue #3: 邢台县, xingtai and 信都区 (and the old code) find 信都区.
		{"邢台县", []string{"130503"}, "alias", "邢台县"},
		{"xingtai", []string{"130503", "130581"}, "alias", "邢台县"},
		{"信都区", []string{"130503"}, "name", "信都区"},
		{"130521", []string{"130503"}, "old_code", "130521"},

		{"130503", []string{"130503"}, "code", "130503"},
		{"1305", []string{"130503", "130581"}, "code", "130503"},
		{"信都", []string{"130503"}, "name", "信都区"},
		{"Xing Tai", []string{"130503", "130581"}, "alias", "邢台县"},
		{"XINGTAI", []string{"130503", "130581"}, "alias", "邢台县"},
		{"ｘｉｎｇｔａｉ", []string{"130503", "130581"}, "alias", "邢台县"},
		{"xingtaixian", []string{"130503"}, "alias", "邢台县"},
		{"xindu", []string{"130503"}, "name", "信都区"},
		{"Xindu Qu", []string{"130503"}, "name", "信都区"},
		{"邢台", []string{"130503", "130581"}, "alias", "邢台县"},
		{"桥西区", []string{"130104", "130703", "130503"}, "name", "桥西区"},
		{"河北 桥西", []string{"130104", "130703", "130503"}, "name", "桥西区"},
		{"hebei xingtai", []string{"130503", "130581"}, "alias", "邢台县"},
		{"黑龙江", []string{"232701", "232722"}, "province", "黑龙江省"},
		{"hinggan", []string{"232701", "232722"}, "prefecture", "大兴安岭地区"},
		{"mohe", []string{"232701"}, "name", "漠河市"},
		{"tai", []string{}, "", ""}, // pinyin matches from word starts only
		{"上海", []string{}, "", ""},
		{"", []string{}, "", ""},
		{"   ", []string{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			t.Parallel()
			ms := s.Search(tt.q, 0)
			require.NotNil(t, ms)
			got := []string{}
			for _, m := range ms {
				got = append(got, m.Region.Code)
			}
			require.Equal(t, tt.want, got)
			if len(ms) > 0 {
				require.Equal(t, tt.wantField, ms[0].Field)
				require.Equal(t, tt.wantText, ms[0].Text)
			}
		})
	}
}

func TestSearchLimit(t *testing.T) {
	t.Parallel()
	s := smallSnapshot(t)
	require.Len(t, s.Search("河北", 0), 4)
	require.Len(t, s.Search("河北", 2), 2)
	require.Len(t, s.Search("13", 0), 4)
	require.Len(t, s.Search("2327", 0), 2)
}

func TestResolve(t *testing.T) {
	t.Parallel()
	s := smallSnapshot(t)
	tests := []struct {
		q    string
		want []string
	}{
		{"130503", []string{"130503"}},
		{"130521", []string{"130503"}},
		{"邢台县", []string{"130503"}},
		{"信都区", []string{"130503"}},
		{"河北 邢台县", []string{"130503"}},
		{"河北省邢台县", []string{"130503"}},
		{"河北省邢台市信都区", []string{"130503"}},
		{"邢台信都区", []string{"130503"}},
		{"Xingtai Xian", []string{"130503"}},
		{"xingtaixian", []string{"130503"}},
		{"Hebei Xingtai Shi Xindu Qu", []string{"130503"}},
		{"信都", []string{"130503"}}, // without the suffix
		{"xindu", []string{"130503"}},
		{"邢台", []string{"130503"}},
		{"hebei xingtai", []string{"130503"}},
		// Ambiguous: two current 桥西区 and 信都区's former name.
		{"桥西区", []string{"130104", "130503", "130703"}},
		{"张家口市桥西区", []string{"130703"}},
		{"石家庄 桥西区", []string{"130104"}},
		{"邢台 桥西区", []string{"130503"}},
		{"漠河", []string{"232701"}},
		{"上海", []string{}},
		{"999999", []string{}},
		{"1305", []string{}},
		{"", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			t.Parallel()
			got := s.Resolve(tt.q)
			require.NotNil(t, got)
			require.Equal(t, tt.want, regionCodes(got))
		})
	}
}
