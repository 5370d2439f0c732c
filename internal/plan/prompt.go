package plan

import (
	"fmt"
	"strings"

	"github.com/ludeng/ludeng/internal/pool"
)

// facts are the pool facts of one combination that prompts are built from.
type facts struct {
	comb     Combination
	region   *pool.Region
	province *pool.Province
	zone     *pool.Zone
	season   *pool.Season
	road     *pool.Road
	elements []*pool.Element // in combination (id) order
}

// Prompt limits: enough to characterise the place without drowning the
// instruction about the product.
const (
	maxTerrain      = 3
	maxPlants       = 2
	maxArchitecture = 2
	maxWater        = 1
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
		Province: f.province.Name, Zone: f.zone.ID, Season: f.season.Season, SnowCover: f.season.SnowCover,
		Road:     Label{ID: f.road.ID, ZH: f.road.ZH, EN: f.road.EN},
		Elements: []Label{},
	}
	for _, e := range f.elements {
		sc.Elements = append(sc.Elements, Label{ID: e.ID, ZH: e.ZH, EN: e.EN})
	}
	return sc
}

// cropGroup is the region's crops of one kind and that kind's state in the
// month.
type cropGroup struct {
	en, zh []string
	state  pool.Text
}

// crops groups the region's crops by kind, in order of first appearance, each
// with the season table's state for that kind (CropStateFor falls back to
// the general crop state).
func (f *facts) crops() []cropGroup {
	var out []cropGroup
	at := map[string]int{}
	for _, c := range f.region.Crops {
		i, ok := at[c.Kind]
		if !ok {
			i = len(out)
			at[c.Kind] = i
			out = append(out, cropGroup{state: f.season.CropStateFor(c.Kind)})
		}
		out[i].en = append(out[i].en, c.EN)
		out[i].zh = append(out[i].zh, c.ZH)
	}
	return out
}

func firstN(ts []pool.Term, n int) []pool.Term {
	if len(ts) > n {
		return ts[:n]
	}
	return ts
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

var seasonZH = map[string]string{"spring": "春季", "summer": "夏季", "autumn": "秋季", "winter": "冬季"}

// prefectureShown reports whether the prefecture name adds information (not
// for the "市辖区"/"县" pseudo-prefectures of province-level cities).
func (f *facts) prefectureShown() bool {
	n := f.region.Prefecture.Name
	return n != "" && n != "市辖区" && n != "县"
}

func (f *facts) promptEN(v VariantSpec) string {
	var b strings.Builder
	tp, wp := timePhrases[v.Time], weatherPhrases[v.Weather]
	month := monthNamesEN[f.comb.Month]

	b.WriteString("Photorealistic photograph for a social-media marketing post about a solar street light. ")
	b.WriteString("Use the solar street light in the reference photo as the product and keep it exactly unchanged: the same shape, proportions, colours, materials, solar panel, lamp head and logo. Do not redesign it, recolour it, add or remove parts, or add any text. ")
	fmt.Fprintf(&b, "Place it naturally beside %s (%s): standing upright on the ground at a realistic height and scale, fully visible, with a shadow and lighting that match the scene.\n", f.road.EN, clause(f.road.Description.EN))

	place := f.region.Pinyin
	if f.prefectureShown() {
		place += ", " + f.region.Prefecture.Pinyin
	}
	place += ", " + f.province.Pinyin + ", China"
	fmt.Fprintf(&b, "Setting: the countryside of %s (%s climate) in %s, %s.\n", place, f.zone.EN, month, f.season.Season)
	fmt.Fprintf(&b, "Landscape: %s.\n", joinEN(termsEN(firstN(f.region.Terrain, maxTerrain))))
	var crops []string
	for _, g := range f.crops() {
		crops = append(crops, fmt.Sprintf("%s (in %s: %s)", joinEN(g.en), month, clause(g.state.EN)))
	}
	if len(crops) > 0 {
		fmt.Fprintf(&b, "Crops: %s.\n", strings.Join(crops, "; "))
	}
	if len(f.region.Plants) > 0 {
		fmt.Fprintf(&b, "Vegetation: %s; %s.\n", joinEN(termsEN(firstN(f.region.Plants, maxPlants))), clause(f.season.PlantState.EN))
	}
	if len(f.region.Architecture) > 0 {
		fmt.Fprintf(&b, "Buildings: %s.\n", joinEN(termsEN(firstN(f.region.Architecture, maxArchitecture))))
	}
	if len(f.region.Water) > 0 {
		fmt.Fprintf(&b, "In the distance: %s.\n", joinEN(termsEN(firstN(f.region.Water, maxWater))))
	}
	fmt.Fprintf(&b, "Climate in %s: %s.\n", month, clause(f.season.Climate.EN))
	if len(f.elements) > 0 {
		els := make([]string, len(f.elements))
		for i, e := range f.elements {
			els[i] = e.EN
		}
		fmt.Fprintf(&b, "Scene elements: %s, fitting naturally into the scene and not covering the street light.\n", joinEN(els))
	}
	fmt.Fprintf(&b, "Time of day: %s — %s.\n", tp.labelEN, tp.descEN)
	fmt.Fprintf(&b, "Weather: %s — %s.\n", wp.labelEN, wp.descEN)
	b.WriteString("Style: documentary photography, natural colours, eye-level view, 35 mm lens, sharp focus on the street light, realistic light and shadows; no text, captions, logos other than the product's, watermarks or borders.")
	return b.String()
}

func (f *facts) promptZH(v VariantSpec) string {
	var b strings.Builder
	tp, wp := timePhrases[v.Time], weatherPhrases[v.Weather]
	month := fmt.Sprintf("%d月", f.comb.Month)

	b.WriteString("为社交媒体营销帖子拍摄的写实照片，主角是一盏太阳能路灯。")
	b.WriteString("以参考照片中的太阳能路灯为产品，保持产品完全不变：外形、比例、颜色、材质、太阳能板、灯头和标志都与照片一致，不要重新设计、改色、增减部件，也不要添加任何文字。")
	fmt.Fprintf(&b, "把路灯自然地立在%s旁（%s），竖直立于地面，高度和比例真实，完整可见，影子和光线与场景一致。\n", f.road.ZH, clause(f.road.Description.ZH))

	place := f.province.Name
	if f.prefectureShown() {
		place += f.region.Prefecture.Name
	}
	place += f.region.Name
	fmt.Fprintf(&b, "地点：%s乡村（%s），%s，%s。\n", place, f.zone.ZH, month, seasonZH[f.season.Season])
	fmt.Fprintf(&b, "地貌：%s。\n", strings.Join(termsZH(firstN(f.region.Terrain, maxTerrain)), "、"))
	var crops []string
	for _, g := range f.crops() {
		crops = append(crops, fmt.Sprintf("%s（%s：%s）", strings.Join(g.zh, "、"), month, clause(g.state.ZH)))
	}
	if len(crops) > 0 {
		fmt.Fprintf(&b, "作物：%s。\n", strings.Join(crops, "；"))
	}
	if len(f.region.Plants) > 0 {
		fmt.Fprintf(&b, "植被：%s；%s。\n", strings.Join(termsZH(firstN(f.region.Plants, maxPlants)), "、"), clause(f.season.PlantState.ZH))
	}
	if len(f.region.Architecture) > 0 {
		fmt.Fprintf(&b, "建筑：%s。\n", strings.Join(termsZH(firstN(f.region.Architecture, maxArchitecture)), "、"))
	}
	if len(f.region.Water) > 0 {
		fmt.Fprintf(&b, "远处：%s。\n", strings.Join(termsZH(firstN(f.region.Water, maxWater)), "、"))
	}
	fmt.Fprintf(&b, "%s气候：%s。\n", month, clause(f.season.Climate.ZH))
	if len(f.elements) > 0 {
		els := make([]string, len(f.elements))
		for i, e := range f.elements {
			els[i] = e.ZH
		}
		fmt.Fprintf(&b, "场景元素：%s，自然融入画面，不遮挡路灯。\n", strings.Join(els, "、"))
	}
	fmt.Fprintf(&b, "时间：%s，%s。\n", tp.labelZH, tp.descZH)
	fmt.Fprintf(&b, "天气：%s，%s。\n", wp.labelZH, wp.descZH)
	b.WriteString("风格：纪实摄影，色彩自然，平视视角，35毫米镜头，路灯清晰对焦，光影真实；画面中不要出现文字、标题、水印、边框或产品以外的标志。")
	return b.String()
}
