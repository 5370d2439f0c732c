// Package batchview is the read model of batches: the typed JSON the API
// returns for a batch, its list rows and its event log, built from store rows
// with the plan, variant and QC JSON decoded once per batch version.
//
// The types here are the contract: internal/httpapi/openapi.json has their
// schemas generated from them (see docs/conventions.md), the web client's
// TypeScript types are generated from that document, and a test validates
// real responses against it.
package batchview

import (
	"time"

	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/similarity"
	"github.com/ludeng/ludeng/internal/store"
)

// Money is an amount as a decimal string in the configured currency.
type Money struct {
	Amount   string `json:"amount" example:"1.20"`
	Currency string `json:"currency" example:"CNY"`
}

// Estimate is the expected cost of a batch.
type Estimate struct {
	Images   int    `json:"images"`
	PerImage *Money `json:"per_image,omitempty"`
	Total    Money  `json:"total"`
}

// Progress counts a batch's images.
type Progress struct {
	Done      int `json:"done"`
	Total     int `json:"total"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
}

// Report sums a batch's outcomes: images by status, failure reasons of the
// images that did not succeed, and every QC rejection on the way.
type Report struct {
	Counts    map[string]int `json:"counts"`
	Reasons   map[string]int `json:"reasons"`
	QCRejects map[string]int `json:"qc_rejects"`
}

// ImageURLs are an image's content links by size; empty until it has a result.
type ImageURLs struct {
	Thumb   string `json:"thumb,omitempty"`
	Card    string `json:"card,omitempty"`
	Preview string `json:"preview,omitempty"`
	Full    string `json:"full,omitempty"`
	// Download is the single-file download with a readable name.
	Download string `json:"download,omitempty"`
}

// Variant is the time and weather an image renders; Base is the planned
// variant before QC nudges.
type Variant struct {
	ID      string `json:"id"`
	Time    string `json:"time"`
	Weather string `json:"weather"`
	Base    string `json:"base,omitempty"`
}

// QCEntry is one QC rejection kept on an image.
type QCEntry struct {
	Try     int                `json:"try"`
	Variant string             `json:"variant"`
	Reason  string             `json:"reason"`
	Scores  *similarity.Scores `json:"scores,omitempty"`
	Against string             `json:"against,omitempty"`
}

// Image is one image of a group.
type Image struct {
	ID           string            `json:"id"`
	Index        int               `json:"index"`
	Status       store.ImageStatus `json:"status"`
	Variant      Variant           `json:"variant"`
	PromptSource string            `json:"prompt_source"`
	Reason       string            `json:"reason"`
	QCTries      int               `json:"qc_tries"`
	QC           []QCEntry         `json:"qc"`
	Width        int               `json:"width"`
	Height       int               `json:"height"`
	Provider     string            `json:"provider"`
	URLs         ImageURLs         `json:"urls"`
	// Picking fields.
	Starred     bool   `json:"starred"`
	Versions    int    `json:"versions"`
	Instruction string `json:"instruction"`
	Prompt      string `json:"prompt"`
	FileName    string `json:"file_name,omitempty"`
	LabelZH     string `json:"label_zh,omitempty"`
}

// GroupProgress counts a group's succeeded images.
type GroupProgress struct {
	Succeeded int `json:"succeeded"`
	Total     int `json:"total"`
}

// GroupNote is a group's post kit (Xiaohongshu note draft).
type GroupNote struct {
	GroupID  string   `json:"group_id"`
	Tone     string   `json:"tone"`
	Title    string   `json:"title"`
	Body     string   `json:"body"`
	Hashtags []string `json:"hashtags" nonnull:""`
	// Source is deepseek, template or edited.
	Source string `json:"source"`
	// FallbackReason says why the template stands in for DeepSeek (only on the answer that wrote it).
	FallbackReason string    `json:"fallback_reason,omitempty"`
	UpdatedAt      time.Time `json:"updated_at"`
	Text           string    `json:"text"`
}

// Group is one scene of a batch with its images.
type Group struct {
	ID          string           `json:"id"`
	Index       int              `json:"index"`
	Key         string           `json:"key"`
	Status      string           `json:"status"`
	Combination plan.Combination `json:"combination"`
	Scene       plan.Scene       `json:"scene"`
	Images      []Image          `json:"images"`
	Download    string           `json:"download"`
	Note        *GroupNote       `json:"note"`
	Progress    GroupProgress    `json:"progress"`
}

// Params echo the generation options of a batch.
type Params struct {
	Aspect     string `json:"aspect"`
	Resolution int    `json:"resolution"`
	Enhance    string `json:"enhance"`
	Priority   string `json:"priority"`
	Budget     string `json:"budget,omitempty"`
	RerunOf    string `json:"rerun_of,omitempty"`
}

// Batch is a batch as GET /api/v1/batches/{id} shows it. QueuePosition and
// ETASeconds are present only while the batch is not terminal.
type Batch struct {
	ID            string            `json:"id"`
	Status        store.BatchStatus `json:"status"`
	Mode          string            `json:"mode"`
	Seed          int64             `json:"seed"`
	UploadID      string            `json:"upload_id"`
	Message       string            `json:"message"`
	Params        Params            `json:"params"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
	StartedAt     *time.Time        `json:"started_at"`
	FinishedAt    *time.Time        `json:"finished_at"`
	Groups        []Group           `json:"groups"`
	Progress      Progress          `json:"progress"`
	Estimate      Estimate          `json:"estimate"`
	Cost          Money             `json:"cost"`
	Budget        *Money            `json:"budget,omitempty"`
	Report        Report            `json:"report"`
	EventSeq      int64             `json:"event_seq"`
	PoolVersion   string            `json:"pool_version"`
	Download      string            `json:"download"`
	QueuePosition *int64            `json:"queue_position,omitempty"`
	ETASeconds    *int64            `json:"eta_seconds,omitempty"`
	// Picking fields.
	Name            string `json:"name"`
	DefaultName     string `json:"default_name"`
	Archived        bool   `json:"archived"`
	StarredDownload string `json:"starred_download"`
}

// Summary is a batch as the list shows it.
type Summary struct {
	ID         string            `json:"id"`
	Status     store.BatchStatus `json:"status"`
	Mode       string            `json:"mode"`
	Groups     int               `json:"groups"`
	Scenes     []plan.Scene      `json:"scenes"`
	CreatedAt  time.Time         `json:"created_at"`
	FinishedAt *time.Time        `json:"finished_at"`
	Estimate   Money             `json:"estimate"`
	Progress   Progress          `json:"progress"`
	Name       string            `json:"name"`
	Archived   bool              `json:"archived"`
}

// SummaryPage is one page of the batch list.
type SummaryPage struct {
	Items      []Summary `json:"items"`
	NextCursor string    `json:"next_cursor"`
}

// DryRun is the answer to a dry-run submission: the plan and its cost.
type DryRun struct {
	DryRun   bool      `json:"dry_run"`
	Plan     plan.Plan `json:"plan"`
	Estimate Estimate  `json:"estimate"`
}

// EventPage is a slice of a batch's event log.
type EventPage struct {
	Items   []store.Event `json:"items"`
	LastSeq int64         `json:"last_seq"`
}

// UsageRow is one day and provider of a user's spend.
type UsageRow struct {
	Day      string `json:"day" example:"2026-12-05"`
	Provider string `json:"provider"`
	Cost     Money  `json:"cost"`
	Images   int64  `json:"images"`
}

// Usage is a user's spend: per day and provider, today's and this month's
// totals, and what the budgets leave (present when a budget is set).
type Usage struct {
	Items              []UsageRow `json:"items"`
	SpentToday         Money      `json:"spent_today"`
	SpentThisMonth     Money      `json:"spent_this_month"`
	RemainingToday     *Money     `json:"remaining_today,omitempty"`
	RemainingThisMonth *Money     `json:"remaining_this_month,omitempty"`
}

// Budget is a user's budgets after PUT /api/v1/admin/users/{id}/budget
// (null: no budget).
type Budget struct {
	UserID  string `json:"user_id"`
	Daily   *Money `json:"daily"`
	Monthly *Money `json:"monthly"`
}

// HistoryPage is one page of the combination history.
type HistoryPage struct {
	Items      []*store.HistoryRow `json:"items"`
	NextCursor string              `json:"next_cursor"`
}

// Archived counts history rows archived.
type Archived struct {
	Archived int64 `json:"archived"`
}

// SignedLink is a download link that works without a session until it expires.
type SignedLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// QueueState is the generate queue after an admin paused or resumed it.
type QueueState struct {
	Queue  string `json:"queue" example:"generate"`
	Paused bool   `json:"paused"`
}
