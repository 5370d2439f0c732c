package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ludeng/ludeng/internal/fault"
)

// OpPostKit is the ledger operation of a post kit (note draft) call.
const OpPostKit = "post_kit"

// Limits of a Xiaohongshu note draft.
const (
	PostTitleMaxRunes = 20
	PostBodyMinRunes  = 100
	PostBodyMaxRunes  = 300
	PostTagsMin       = 5
	PostTagsMax       = 10
)

// PostFacts are everything a note may say about a group: the place and
// season exactly as the pool names them, and what the pictures show. A
// note states nothing about the product beyond "solar street light": no
// power, brightness, battery or lifetime figures (the operator knows the
// product; ludeng does not).
type PostFacts struct {
	Province   string   `json:"province"`
	Prefecture string   `json:"prefecture"`
	County     string   `json:"county"`
	Month      int      `json:"month"`
	Season     string   `json:"season"` // spring, summer, autumn, winter
	Road       string   `json:"road"`   // zh, e.g. 水泥路
	Elements   []string `json:"elements,omitempty"`
	// Variants are the zh labels of the pictures (清晨晴, 夜晚小雨…).
	Variants []string `json:"variants,omitempty"`
}

// PostTone is a tone preset for notes.
type PostTone struct {
	ID    string `json:"id"`
	ZH    string `json:"zh"`
	EN    string `json:"en"`
	Guide string `json:"-"` // what DeepSeek is told
}

// PostTones are the tone presets; the first is the default.
var PostTones = []PostTone{
	{ID: "warm", ZH: "亲切分享", EN: "Warm, personal",
		Guide: "像做乡村照明的运营在分享自己的作品：口语、亲切、真诚，一两个语气词即可，不夸张。"},
	{ID: "pro", ZH: "专业介绍", EN: "Professional",
		Guide: "面向村委、工程方和经销商：语气克制专业，讲清场景和适用的路况，不用网络流行语。"},
	{ID: "lively", ZH: "活泼种草", EN: "Lively",
		Guide: "小红书种草风格：轻快活泼，可以用两三个表情符号，但不要标题党，不要夸大。"},
}

// ToneByID returns the tone preset, or false.
func ToneByID(id string) (PostTone, bool) {
	for _, t := range PostTones {
		if t.ID == id {
			return t, true
		}
	}
	return PostTone{}, false
}

// PostKitRequest asks for one group's note.
type PostKitRequest struct {
	Facts PostFacts
	Tone  string
	Ref   Ref
}

// PostKit is a note draft.
type PostKit struct {
	Title    string
	Body     string
	Hashtags []string
	// Source is deepseek or template.
	Source string
	// Degraded is true when the template stands in for a failed DeepSeek
	// call or an answer that broke the rules; Reason says which.
	Degraded bool
	Reason   string
	// CostMicros of the call (0 for the template).
	CostMicros int64
}

var seasonWordZH = map[string]string{"spring": "春天", "summer": "夏天", "autumn": "秋天", "winter": "冬天"}

// SeasonZH is the spoken Chinese season word ("夏天").
func SeasonZH(s string) string { return seasonWordZH[s] }

// specPattern finds product figures a note must not invent: power,
// brightness, battery, voltage, hours or years of life, heights, IP ratings.
var specPattern = regexp.MustCompile(`(?i)[0-9０-９]+(\.[0-9]+)?\s*(w\b|瓦|lm|流明|mah|毫安|v\b|伏|小时|h\b|年|米|m\b|k\b|色温)|ip\s?[0-9]{2}`)

// CheckPostKit reports why a note breaks the rules ("" when it does not).
func CheckPostKit(k PostKit) string {
	switch n := utf8.RuneCountInString(k.Title); {
	case n == 0:
		return "title_empty"
	case n > PostTitleMaxRunes:
		return "title_too_long"
	}
	switch n := utf8.RuneCountInString(k.Body); {
	case n < PostBodyMinRunes:
		return "body_too_short"
	case n > PostBodyMaxRunes:
		return "body_too_long"
	}
	if len(k.Hashtags) < PostTagsMin || len(k.Hashtags) > PostTagsMax {
		return "hashtag_count"
	}
	if specPattern.MatchString(k.Title) || specPattern.MatchString(k.Body) {
		return "invented_spec"
	}
	return ""
}

// NormalizeTags strips "#" and blanks, drops duplicates and empty tags and
// keeps at most PostTagsMax.
func NormalizeTags(tags []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, t := range tags {
		t = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(t), "#＃"))
		t = strings.Join(strings.Fields(t), "")
		if t == "" || seen[t] || utf8.RuneCountInString(t) > 20 {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	if len(out) > PostTagsMax {
		out = out[:PostTagsMax]
	}
	return out
}

func shortProvince(p string) string {
	for _, suf := range []string{"维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市"} {
		if strings.HasSuffix(p, suf) && utf8.RuneCountInString(p) > utf8.RuneCountInString(suf)+1 {
			return strings.TrimSuffix(p, suf)
		}
	}
	return p
}

func joinZH(list []string) string {
	switch len(list) {
	case 0:
		return ""
	case 1:
		return list[0]
	}
	return strings.Join(list[:len(list)-1], "、") + "和" + list[len(list)-1]
}

// TemplatePostKit writes the note from the facts alone: what DeepSeek's
// answer is replaced with when it is not configured or fails. Every
// sentence is about the place, the season and the pictures.
func TemplatePostKit(f PostFacts, tone string) PostKit {
	if _, ok := ToneByID(tone); !ok {
		tone = PostTones[0].ID
	}
	season := SeasonZH(f.Season)
	month := strconv.Itoa(f.Month) + "月"
	place := f.County
	if place == "" {
		place = f.Prefecture
	}
	title := place + month + "的乡村路灯"
	if utf8.RuneCountInString(title) > PostTitleMaxRunes {
		title = place + "的路灯"
	}
	if utf8.RuneCountInString(title) > PostTitleMaxRunes {
		title = string([]rune(title)[:PostTitleMaxRunes])
	}
	where := f.Province + f.Prefecture + f.County
	if f.Prefecture == f.County || f.Prefecture == "" {
		where = f.Province + f.County
	}
	var scene string
	if len(f.Elements) > 0 {
		scene = "路边有" + joinZH(f.Elements) + "，"
	}
	var light string
	if len(f.Variants) > 0 {
		light = "从" + f.Variants[0] + "到" + f.Variants[len(f.Variants)-1] + "，"
	}
	var body string
	switch tone {
	case "pro":
		body = fmt.Sprintf("本组效果图以%s%s为场景，时间是%s（%s），路面为%s。%s%s同一盏太阳能路灯在不同时段和天气下的样子都在图里，"+
			"方便对照实际安装环境。适合村道、田间路和院落照明方案的前期沟通，需要具体场景的方案可以私信交流。",
			where, "的乡村道路", month, season, f.Road, scene, light)
	case "lively":
		body = fmt.Sprintf("%s的%s是什么样？✨这次把我们的太阳能路灯放进了%s%s的%s上，%s%s一组四张都给大家整理好啦～"+
			"白天静静立在路边，天一黑就把路照亮，走夜路的时候安心多了🌙 想给自家村道、院子挑灯的姐妹可以先看看效果，有问题评论区见！",
			where, month, season, "的乡间", f.Road, scene, light)
	default:
		body = fmt.Sprintf("这组图把我们的太阳能路灯放进了%s%s的乡村，%s的%s。%s%s同一盏灯在不同光线下的样子都在这里了。"+
			"白天立在路边不显眼，天黑以后把路面照得清清楚楚，村里人走夜路心里踏实。想给村道、院子装灯的朋友可以看看实际效果，有问题评论区聊～",
			where, month, season, f.Road, scene, light)
	}
	if utf8.RuneCountInString(body) > PostBodyMaxRunes {
		// Long place names and element lists: drop the element clause.
		body = strings.Replace(body, scene, "", 1)
	}
	if utf8.RuneCountInString(body) > PostBodyMaxRunes {
		body = string([]rune(body)[:PostBodyMaxRunes-1]) + "…"
	}
	tags := []string{"太阳能路灯", "乡村路灯", f.County, shortProvince(f.Province), season + "的乡村", "新农村", "户外照明", "乡村振兴"}
	return PostKit{Title: title, Body: body, Hashtags: NormalizeTags(tags), Source: SourceTemplate}
}

const postKitSystem = "你是一名做太阳能路灯的小红书运营，为一组效果图写笔记草稿。效果图是把产品照片合成进真实地点的场景图。" +
	"只使用输入里给出的事实：地点、月份、季节、路面、场景元素和图片的时段天气；地名照抄，不要改写。" +
	"不要编造任何产品参数（功率、亮度、电池、续航、寿命、尺寸、防水等级、价格），不要写“实拍”。" +
	"%s 标题不超过20个字；正文100到300个字，自然口语，提到地点和季节；5到10个话题标签，不带#号。" +
	"只用json回答，格式：{\"title\":\"...\",\"body\":\"...\",\"hashtags\":[\"...\"]}。"

// PostKit writes a group's note with DeepSeek, or returns the template
// (Source template) when DeepSeek is not configured, fails, or answers
// outside the rules. The only errors are an invalid request and a
// cancelled context.
func (e *PromptEnhancer) PostKit(ctx context.Context, req PostKitRequest) (PostKit, error) {
	if req.Facts.County == "" || req.Facts.Month < 1 || req.Facts.Month > 12 {
		return PostKit{}, fault.New(fault.Invalid, "post_kit_facts", "The group has no place or month to write about.")
	}
	tone, ok := ToneByID(req.Tone)
	if !ok {
		ids := make([]string, len(PostTones))
		for i, t := range PostTones {
			ids[i] = t.ID
		}
		return PostKit{}, fault.New(fault.Unprocessable, "post_kit_tone", "Unknown tone.").With("allowed", ids)
	}
	tmpl := TemplatePostKit(req.Facts, tone.ID)
	if e.ds == nil {
		return tmpl, nil
	}
	if !e.entry.usable(e.entry.clk.Now()) {
		tmpl.Degraded, tmpl.Reason = true, "unavailable: skipped"
		return tmpl, nil
	}
	var out PostKit
	err := e.entry.attempt(ctx, req.Ref, OpPostKit, 1, 0, 0, func(actx context.Context) (usage, error) {
		k, u, err := e.ds.postKit(actx, req.Facts, tone)
		out = k
		return u, err
	})
	if err != nil {
		if ctx.Err() != nil {
			return PostKit{}, ctx.Err()
		}
		var pe *Error
		if errors.As(err, &pe) {
			e.entry.afterFailure(pe)
		}
		tmpl.Degraded, tmpl.Reason = true, reasonOf(err)
		e.log.WarnContext(ctx, "post kit: DeepSeek failed; using the template", slog.String("reason", tmpl.Reason))
		return tmpl, nil
	}
	out.Hashtags = NormalizeTags(out.Hashtags)
	// Too few tags is mended from the template's; anything else that breaks
	// the rules falls back.
	for _, t := range tmpl.Hashtags {
		if len(out.Hashtags) >= PostTagsMin {
			break
		}
		out.Hashtags = NormalizeTags(append(out.Hashtags, t))
	}
	if why := CheckPostKit(out); why != "" {
		tmpl.Degraded, tmpl.Reason, tmpl.CostMicros = true, "rejected: "+why, out.CostMicros
		e.log.WarnContext(ctx, "post kit: DeepSeek's note broke a rule; using the template", slog.String("reason", why))
		return tmpl, nil
	}
	out.Source = SourceDeepSeek
	return out, nil
}

func (d *deepSeek) postKit(ctx context.Context, f PostFacts, tone PostTone) (PostKit, usage, error) {
	facts, _ := json.Marshal(struct {
		PostFacts
		SeasonZH string `json:"season_zh"`
		Task     string `json:"task"`
	}{f, SeasonZH(f.Season), "xiaohongshu_note"})
	body := map[string]any{
		"model": d.cfg.Model,
		"messages": []map[string]string{
			{"role": "system", "content": strings.Replace(postKitSystem, "%s", "语气："+tone.Guide, 1)},
			{"role": "user", "content": string(facts)},
		},
		"thinking":        map[string]string{"type": "disabled"},
		"temperature":     1.0,
		"max_tokens":      1024,
		"response_format": map[string]string{"type": "json_object"},
		"stream":          false,
	}
	ans, err := do(ctx, d.hc, httpCall{method: http.MethodPost, url: d.cfg.BaseURL + "/chat/completions",
		header: http.Header{"Authorization": {"Bearer " + d.cfg.APIKey}}, jsonIn: body, maxBody: 4 << 20})
	if err != nil {
		return PostKit{}, usage{}, err
	}
	if ans.status != http.StatusOK {
		return PostKit{}, usage{}, d.classify(ans)
	}
	content, u, err := d.content(ans)
	if err != nil {
		return PostKit{}, u, err
	}
	var out struct {
		Title    string   `json:"title"`
		Body     string   `json:"body"`
		Hashtags []string `json:"hashtags"`
	}
	if err := json.Unmarshal([]byte(content), &out); err != nil || strings.TrimSpace(out.Body) == "" {
		if err == nil {
			err = errors.New("no body field")
		}
		return PostKit{}, u, &Error{Class: ClassNoImage, Status: ans.status, Code: "invalid_json_content", Err: err}
	}
	return PostKit{Title: strings.TrimSpace(out.Title), Body: strings.TrimSpace(out.Body), Hashtags: out.Hashtags,
		CostMicros: u.cost}, u, nil
}

// content reads a chat completion: the usage (priced) and the first
// choice's content, classifying DeepSeek's documented failure answers.
func (d *deepSeek) content(ans httpAnswer) (string, usage, error) {
	var resp deepSeekResponse
	if err := json.Unmarshal(ans.body, &resp); err != nil {
		return "", usage{}, malformed(ans.status, err)
	}
	var u usage
	if r := resp.Usage; r != nil {
		u.in, u.out = r.PromptTokens, r.CompletionTokens
		hit, miss := r.PromptCacheHitTokens, r.PromptCacheMissTokens
		if hit+miss == 0 {
			miss = r.PromptTokens
		}
		u.cost = int64(math.Round((float64(hit)*float64(d.cfg.PriceInputHitMicros) +
			float64(miss)*float64(d.cfg.PriceInputMicros) +
			float64(r.CompletionTokens)*float64(d.cfg.PriceOutputMicros)) / 1e6))
	}
	if len(resp.Choices) == 0 {
		return "", u, &Error{Class: ClassNoImage, Status: ans.status, Code: "no_choices"}
	}
	c := resp.Choices[0]
	switch c.FinishReason {
	case "insufficient_system_resource":
		return "", u, &Error{Class: ClassUnavailable, Status: ans.status, Code: c.FinishReason}
	case "content_filter":
		return "", u, &Error{Class: ClassBlocked, Status: ans.status, Code: c.FinishReason}
	}
	content := strings.TrimSpace(c.Message.Content)
	if content == "" {
		return "", u, &Error{Class: ClassNoImage, Status: ans.status, Code: "empty_content"}
	}
	return content, u, nil
}
