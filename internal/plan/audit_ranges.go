package plan

import (
	"fmt"
	"slices"
	"strings"
)

// elementRange is where an element is seen, by 2-digit province prefix,
// written from distribution facts independently of the fit rules (see
// data/pool/sources/audit-ranges.md). The audit flags every county where the
// fit rules admit an element outside its range: a second line of defence
// against a wrong tag or a too broad rule.
type elementRange struct {
	provinces []string
	why       string
}

func rangeOf(why string, provinces ...string) elementRange {
	return elementRange{provinces: provinces, why: why}
}

var (
	tibetanAreas = []string{"54", "63", "51", "62", "53"}
	yakAreas     = []string{"54", "63", "51", "62", "53", "65"}
	teaAreas     = []string{"32", "33", "34", "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62"}
	lyingSnow    = []string{"23", "22", "21", "15", "13", "65"}
	doubleRice   = []string{"33", "34", "35", "36", "42", "43", "44", "45", "46", "53"}
	buffaloAreas = []string{"31", "32", "33", "34", "35", "36", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "61"}
	tropics      = []string{"44", "45", "46", "35", "53"}
)

var auditRangeTable = map[string]elementRange{
	"camels":                   rangeOf("Bactrian camels are kept in Inner Mongolia, Gansu, Qinghai, Ningxia and Xinjiang", "15", "62", "63", "64", "65"),
	"yak_herd":                 rangeOf("yaks live on the Qinghai-Tibet Plateau and its margins", yakAreas...),
	"yak_plough":               rangeOf("yaks live on the Qinghai-Tibet Plateau and its margins", yakAreas...),
	"yak_dung_wall":            rangeOf("yak-dung fuel belongs to yak country", yakAreas...),
	"tibetan_herder":           rangeOf("Tibetan herders live in Tibet and Tibetan areas of Qinghai, Sichuan, Gansu and Yunnan", tibetanAreas...),
	"prayer_flags":             rangeOf("prayer flags belong to Tibetan areas", tibetanAreas...),
	"horse_racing_festival":    rangeOf("Tibetan horse-racing festivals are held in Tibetan areas", tibetanAreas...),
	"barley_harvest":           rangeOf("highland barley is grown by Tibetan farmers", tibetanAreas...),
	"naadam":                   rangeOf("naadam fairs are held by Mongol communities", "15", "13", "21", "22", "23", "62", "63", "65"),
	"water_splashing":          rangeOf("the Water-Splashing Festival belongs to the Dai of Yunnan", "53"),
	"rubber_tapping":           rangeOf("rubber is grown in Hainan, southern Yunnan and western Guangdong", "46", "53", "44"),
	"coconut_palms":            rangeOf("coconut palms grow in Hainan and the Leizhou peninsula", "46", "44"),
	"cotton_picker":            rangeOf("machine cotton picking is a Xinjiang practice", "65"),
	"cotton_hand_picking":      rangeOf("cotton provinces", "65", "62", "13", "12", "37", "41", "42", "32", "34", "36", "43"),
	"tea_picking":              rangeOf("tea grows south of the Qinling-Huai line and in Shandong's Rizhao and Tibet's Nyingchi", teaAreas...),
	"autumn_tea_picking":       rangeOf("tea grows south of the Qinling-Huai line", teaAreas...),
	"horse_sleigh":             rangeOf("horse sleighs run where snow lies for months (the northeast, Inner Mongolia, Bashang, Altay and Ili)", "23", "22", "21", "15", "13", "65"),
	"snowman":                  rangeOf("lying snow", lyingSnow...),
	"sledging":                 rangeOf("lying snow", lyingSnow...),
	"snow_shovelling":          rangeOf("lying snow", lyingSnow...),
	"frozen_goods_stall":       rangeOf("frozen-goods markets on the snow are a northeastern custom", "23", "22", "21", "15"),
	"lychee_picking":           rangeOf("lychees grow in Guangdong, Fujian, Guangxi, Hainan and warm pockets of Yunnan and Sichuan", "44", "35", "45", "46", "53", "51"),
	"sugarcane_harvest":        rangeOf("sugarcane provinces", tropics...),
	"banana_grove":             rangeOf("bananas grow in the south", tropics...),
	"kapok_blossom":            rangeOf("kapok trees grow in the south", append(slices.Clone(tropics), "51")...),
	"early_rice_transplanting": rangeOf("double-crop rice provinces", doubleRice...),
	"late_rice_transplanting":  rangeOf("double-crop rice provinces", doubleRice...),
	"combine_rice_double":      rangeOf("double-crop rice provinces", doubleRice...),
	"water_buffalo":            rangeOf("water buffalo are kept in the southern rice country", buffaloAreas...),
	"buffalo_harrow":           rangeOf("water buffalo are kept in the southern rice country", buffaloAreas...),
	"desert_poplars":           rangeOf("Populus euphratica forests grow in Xinjiang, western Inner Mongolia and Gansu", "65", "15", "62"),
	"desert_dunes":             rangeOf("sand deserts and sandy lands", "15", "62", "63", "64", "65", "13", "61"),
}

// auditRanges checks, for every element with a range, every county where the
// fit rules admit it in some month on some road.
func (x *index) auditRanges(add func(Violation)) {
	for _, e := range x.elements {
		rg, ok := auditRangeTable[e.ID]
		if !ok {
			continue
		}
		t := x.snap.RegionFit(e.ID)
		for gi, r := range x.regions {
			admitted := false
			for m := 1; m <= 12 && !admitted; m++ {
				admitted = t[gi*13+m] != 0
			}
			if admitted && !slices.Contains(rg.provinces, r.Code[:2]) {
				add(Violation{Rule: "range", Where: "element " + e.ID + " in " + r.Code + " " + r.Name,
					Detail: fmt.Sprintf("the fit rules admit %s in %s (province %s), outside its range: %s (provinces %s)",
						e.ID, r.Name, r.Code[:2], rg.why, strings.Join(rg.provinces, ", "))})
			}
		}
	}
}
