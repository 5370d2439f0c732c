package plan

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/ludeng/ludeng/internal/pool"
)

// facts are the pool facts of one combination that prompts are built from.
type facts struct {
	comb      Combination
	region    *pool.Region
	province  *pool.Province
	zone      *pool.Zone
	season    *pool.Season
	road      *pool.Road
	elements  []*pool.Element // in combination (id) order
	clim      pool.ClimateMonth
	hyperArid bool
}

// Prompt v2 framing defaults (docs/prompts.md explains each number).
const (
	poleMetres   = 6   // a typical village solar street light pole
	cameraMetres = 1.6 // eye level
	lensMM       = 35  // a natural, slightly wide documentary lens
	// maxCuesChars bounds the place cues (English characters).
	maxCuesChars = 80
)

func (x *index) facts(c Combination) (*facts, error) {
	r, err := x.snap.Region(c.CountyCode)
	if err != nil {
		return nil, ErrUnknownCounty.With("county", c.CountyCode).Wrap(err)
	}
	f := &facts{comb: c, region: r, province: x.snap.ProvinceOf(r)}
	if f.zone, err = x.snap.Zone(r.Zone); err != nil {
		return nil, fmt.Errorf("zone of %s: %w", r.Code, err)
	}
	if f.season, err = x.snap.Season(r.Zone, c.Month); err != nil {
		return nil, ErrBadMonth.With("month", c.Month).Wrap(err)
	}
	if f.road, err = x.snap.Road(c.Road); err != nil {
		return nil, ErrUnknownRoad.With("road", c.Road).Wrap(err)
	}
	for _, id := range c.Elements {
		e, err := x.snap.Element(id)
		if err != nil {
			return nil, ErrUnknownElem.With("element", id).Wrap(err)
		}
		f.elements = append(f.elements, e)
	}
	if f.province == nil {
		return nil, fmt.Errorf("region %s has no province", r.Code)
	}
	f.clim, f.hyperArid = x.climateOf(r.Code, c.Month)
	return f, nil
}

// Prompts returns the English and Chinese prompt of a combination and
// variant, built from the snapshot's facts. It is deterministic: the same
// combination, variant and pool version always give the same text. The
// pipeline uses it to rebuild a prompt after nudging a variant.
func (p *Planner) Prompts(s *pool.Snapshot, c Combination, v VariantSpec) (en, zh string, err error) {
	if !ValidVariant(v) {
		return "", "", fmt.Errorf("unknown variant time %q or weather %q", v.Time, v.Weather)
	}
	f, err := p.index(s).facts(c.Canonical())
	if err != nil {
		return "", "", err
	}
	return f.promptEN(v), f.promptZH(v), nil
}

func (f *facts) scene() Scene {
	sc := Scene{
		County: f.region.Name, CountyPinyin: f.region.Pinyin, Prefecture: f.region.Prefecture.Name,
		Province: f.province.Name, Zone: f.zone.ID, Season: f.season.Season, SnowCover: f.snowCover(),
		Road:     Label{ID: f.road.ID, ZH: f.road.ZH, EN: f.road.EN},
		Elements: []Label{},
	}
	for _, e := range f.elements {
		sc.Elements = append(sc.Elements, Label{ID: e.ID, ZH: e.ZH, EN: e.EN})
	}
	return sc
}

// snowCover reports lying snow in the county-month: from the county's
// climate profile, or from the zone's season entry for a pool without one.
func (f *facts) snowCover() bool {
	if f.clim.Temp == "" {
		return f.season.SnowCover
	}
	return f.clim.Snow
}

// variants are the group's four variants, following the county's climate.
func (f *facts) variants() []VariantSpec {
	if f.clim.Temp == "" {
		return VariantSpecs(f.season.SnowCover)
	}
	return VariantsFor(f.clim, f.hyperArid)
}

func termsEN(ts []pool.Term) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.EN
	}
	return out
}

func termsZH(ts []pool.Term) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ZH
	}
	return out
}

// joinEN joins "a", "a and b", "a, b and c".
func joinEN(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// clause trims white space and final punctuation from a pool text inserted
// into a sentence.
func clause(s string) string {
	return strings.TrimRight(strings.TrimSpace(s), ".。;；,，")
}

// prefectureShown reports whether the prefecture name adds information: not
// for the "市辖区"/"县" pseudo-prefectures of province-level cities nor the
// "省直辖县级行政区划" of Hainan and Hubei, which are placeholders, not places.
func (f *facts) prefectureShown() bool {
	n := f.region.Prefecture.Name
	return n != "" && n != "市辖区" && n != "县" && !strings.Contains(n, "直辖")
}

// adminWords end the place part of a pinyin name: "Weichang Manzu Mengguzu
// Zizhixian" is Weichang, "Xindu Qu" is Xindu.
var adminWords = map[string]bool{
	"Qu": true, "Xian": true, "Shi": true, "Qi": true, "Meng": true, "Diqu": true, "Xinqu": true,
	"Zizhixian": true, "Zizhiqi": true, "Zizhizhou": true, "Zuoqi": true, "Youqi": true, "Zhongqi": true,
	"Gezu": true, "Shixiaqu": true,
}

// placeEN is the English name of a place: its established English name, or
// the pinyin without administrative and ethnic suffixes.
func placeEN(en, pinyin string) string {
	if en != "" {
		return en
	}
	var kept []string
	for _, w := range strings.Fields(pinyin) {
		if adminWords[w] || strings.HasSuffix(w, "zu") {
			break
		}
		kept = append(kept, w)
	}
	return strings.Join(kept, " ")
}

// placeNameEN is "Gaochang, Turpan, Xinjiang": county, prefecture where it
// is a real place and differs, province.
func (f *facts) placeNameEN() string {
	parts := []string{placeEN(f.region.EN, f.region.Pinyin)}
	if f.prefectureShown() {
		if p := placeEN(f.region.Prefecture.EN, f.region.Prefecture.Pinyin); p != "" && p != parts[0] {
			parts = append(parts, p)
		}
	}
	parts = append(parts, placeEN(f.province.EN, f.province.Pinyin))
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ", ")
}

func (f *facts) placeNameZH() string {
	place := f.province.Short
	if f.prefectureShown() {
		place += f.region.Prefecture.Name
	}
	return place + f.region.Name
}

// cues picks the place cues: one landform and one building or landmark,
// chosen by the combination's key so that two groups of one county differ.
// Crops are left out: their look depends on the month, which the month line
// describes.
func (f *facts) cues() []pool.Term {
	h := fnv.New32a()
	_, _ = h.Write([]byte(f.comb.Key()))
	n := int(h.Sum32() & 0x7fffffff)
	var out []pool.Term
	if len(f.region.Terrain) > 0 {
		out = append(out, f.region.Terrain[n%len(f.region.Terrain)])
	}
	built := append(append([]pool.Term(nil), f.region.Architecture...), f.region.Landmarks...)
	if len(built) > 0 {
		b := built[(n/7)%len(built)]
		// Two long cues crowd the prompt; one is enough then.
		if len(out) == 0 || len(out[0].EN)+len(b.EN) <= maxCuesChars {
			out = append(out, b)
		}
	}
	return out
}

var tempEN = map[string][2]string{
	pool.TempSevere: {"bitterly cold", "严寒"}, pool.TempFreezing: {"freezing cold", "冰冷"},
	pool.TempCold: {"chilly", "寒凉"}, pool.TempCool: {"cool", "凉爽"}, pool.TempMild: {"mild", "温和"},
	pool.TempWarm: {"warm", "温暖"}, pool.TempHot: {"hot", "炎热"},
}

var precipEN = map[string][2]string{
	pool.PrecipArid: {"very dry", "非常干燥"}, pool.PrecipDry: {"dry", "干燥"},
	pool.PrecipWet: {"humid", "湿润"}, pool.PrecipVeryWet: {"humid monsoon air", "季风湿润"},
}

// monthState is the month line: temperature and humidity of the county's
// month, the zone's plant state, lying snow.
func (f *facts) monthState() (en, zh string) {
	var partsEN, partsZH []string
	if t, ok := tempEN[f.clim.Temp]; ok {
		w := t[0]
		wz := t[1]
		if p, ok := precipEN[f.clim.Precip]; ok {
			w += " and " + p[0]
			wz += "、" + p[1]
		}
		partsEN, partsZH = append(partsEN, w), append(partsZH, wz)
	} else {
		partsEN, partsZH = append(partsEN, clause(f.season.Climate.EN)), append(partsZH, clause(f.season.Climate.ZH))
	}
	partsEN = append(partsEN, clause(f.season.PlantState.EN))
	partsZH = append(partsZH, clause(f.season.PlantState.ZH))
	if f.snowCover() {
		partsEN, partsZH = append(partsEN, "snow lying on the ground"), append(partsZH, "地面积雪")
	}
	return strings.Join(partsEN, "; "), strings.Join(partsZH, "；")
}

// lightEN and lightZH describe time and weather together, so that shadows
// are stated once and never contradict.
func lightEN(v VariantSpec) (timeLine, weatherLine string) {
	tp, wp := timePhrases[v.Time], weatherPhrases[v.Weather]
	desc := wp.descEN
	if v.Weather == WeatherSunny {
		desc = weatherLight[v.Time][0]
	} else if v.Weather == WeatherClear && v.Time == TimeNight {
		desc = "clear dry air, starry sky, dry ground"
	}
	return tp.labelEN + ", " + tp.descEN, wp.labelEN + ": " + desc
}

func lightZH(v VariantSpec) (timeLine, weatherLine string) {
	tp, wp := timePhrases[v.Time], weatherPhrases[v.Weather]
	desc := wp.descZH
	if v.Weather == WeatherSunny {
		desc = weatherLight[v.Time][1]
	} else if v.Weather == WeatherClear && v.Time == TimeNight {
		desc = "空气干爽，星空晴朗，地面干燥"
	}
	return tp.labelZH + "，" + tp.descZH, wp.labelZH + "，" + desc
}

// promptEN is prompt v2 (docs/prompts.md): product fidelity first, then
// framing, then one or two place cues, the month, the elements, time and
// weather — short enough (≤ 900 characters at p95) that nothing drowns the
// product.
func (f *facts) promptEN(v VariantSpec) string {
	var b strings.Builder
	b.WriteString("Photorealistic vertical 3:4 photo, social-media ad for a solar street light.\n")
	b.WriteString("Product first: the street light from the reference photo, unchanged (shape, proportions, colours, panel, lamp head, logo); when lit, its own light colour. No text.\n")
	fmt.Fprintf(&b, "Framing: the light is the hero, 2/3 of the frame height, %d m pole beside %s; panel facing open sky; camera %.1f m, %d mm lens.\n",
		poleMetres, f.road.EN, cameraMetres, lensMM)
	cues := f.cues()
	fmt.Fprintf(&b, "Place: %s, China; %s.\n", f.placeNameEN(), joinEN(termsEN(cues)))
	mEN, _ := f.monthState()
	fmt.Fprintf(&b, "Month: %s, %s.\n", monthNamesEN[f.comb.Month], mEN)
	if len(f.elements) > 0 {
		els := make([]string, len(f.elements))
		for i, e := range f.elements {
			els[i] = e.EN
		}
		fmt.Fprintf(&b, "Also in view, smaller, not blocking the light: %s.\n", joinEN(els))
	}
	t, w := lightEN(v)
	fmt.Fprintf(&b, "Time of day: %s.\nWeather: %s.", t, w)
	return b.String()
}

// promptZH is the same structure written for Chinese image models.
func (f *facts) promptZH(v VariantSpec) string {
	var b strings.Builder
	b.WriteString("竖版3:4写实照片，太阳能路灯社交媒体广告。\n")
	b.WriteString("产品优先：使用参考照片中的路灯，外形、比例、颜色、太阳能板、灯头和标志完全不变；亮灯时保持其自身灯光颜色；不加文字。\n")
	fmt.Fprintf(&b, "构图：路灯是主角，占画面高度约三分之二，立在%s旁，灯杆约%d米；太阳能板朝向开阔天空；相机高%.1f米，%d毫米镜头。\n",
		f.road.ZH, poleMetres, cameraMetres, lensMM)
	fmt.Fprintf(&b, "地点：%s；%s。\n", f.placeNameZH(), strings.Join(termsZH(f.cues()), "、"))
	_, mZH := f.monthState()
	fmt.Fprintf(&b, "月份：%d月，%s。\n", f.comb.Month, mZH)
	if len(f.elements) > 0 {
		els := make([]string, len(f.elements))
		for i, e := range f.elements {
			els[i] = e.ZH
		}
		fmt.Fprintf(&b, "画面中还有（较小，不遮挡路灯）：%s。\n", strings.Join(els, "、"))
	}
	t, w := lightZH(v)
	fmt.Fprintf(&b, "时间：%s。\n天气：%s。", t, w)
	return b.String()
}
