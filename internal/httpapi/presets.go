package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/store"
)

// Preset limits.
const (
	maxPresetName     = 100 // characters
	maxPresetsPerUser = 100
)

// Errors of the preset routes.
var (
	errPresetBadName = fault.Newf(fault.Invalid, "preset_bad_name",
		"name must be 1–%d characters without control or bidirectional-override characters.", maxPresetName).With("max_length", maxPresetName)
	errPresetNoSettings = fault.New(fault.Invalid, "preset_settings_missing", "settings are required.")
	errPresetLimit      = fault.Newf(fault.Conflict, "preset_limit",
		"You have %d presets, the most allowed; delete one first.", maxPresetsPerUser).With("max", maxPresetsPerUser)
)

type presetAPI struct {
	s *Server
	p *pipeline.Pipeline
}

// Preset is saved batch settings as the API shows them.
type Preset struct {
	ID        string                  `json:"id"`
	Name      string                  `json:"name"`
	Settings  pipeline.PresetSettings `json:"settings"`
	CreatedAt time.Time               `json:"created_at"`
	UpdatedAt time.Time               `json:"updated_at"`
}

// presetView decodes the stored settings; they were written by
// checkSettings from the same struct, so they encode back unchanged.
func presetView(p *store.Preset) (Preset, error) {
	v := Preset{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if err := json.Unmarshal(p.Settings, &v.Settings); err != nil {
		return v, fmt.Errorf("preset %s: settings: %w", p.ID, err)
	}
	return v, nil
}

// writePreset encodes one preset.
func writePreset(w http.ResponseWriter, status int, p *store.Preset) error {
	v, err := presetView(p)
	if err != nil {
		return err
	}
	return writeJSON(w, status, v)
}

// presetRequest is the body of POST (both fields required) and PATCH (an
// absent field stays).
type presetRequest struct {
	Name     *string              `json:"name,omitempty" example:"县城夜景"`
	Settings *PresetSettingsInput `json:"settings,omitempty"`
}

// PresetSettingsInput is PresetSettings as a client sends it: every field
// may be left out and gets the batch request's default (the API document
// marks it Input, so it lists no field as required; presets answer with
// all of them filled in).
type PresetSettingsInput pipeline.PresetSettings

func presetName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > maxPresetName || !safeName(s) {
		return "", errPresetBadName
	}
	return s, nil
}

// checkSettings validates settings for the preset's owner: whether "high"
// priority is allowed depends on who will submit, not on who edits.
func (a *presetAPI) checkSettings(r *http.Request, ownerID string, s pipeline.PresetSettings) (json.RawMessage, error) {
	owner := UserFrom(r.Context())
	if owner.ID != ownerID {
		var err error
		if owner, err = a.s.db.UserByID(r.Context(), ownerID); err != nil {
			return nil, err
		}
	}
	out, err := a.p.CheckPreset(pipeline.Caller{UserID: owner.ID, IsAdmin: owner.IsAdmin()}, s)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// own loads a preset the caller may see; another user's is not found.
func (a *presetAPI) own(r *http.Request) (*store.Preset, error) {
	p, err := a.s.db.PresetByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if !CanSee(r.Context(), p.UserID) {
		return nil, store.ErrPresetNotFound
	}
	return p, nil
}

func (a *presetAPI) list(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := pageParams(r, 100, 200)
	if err != nil {
		return err
	}
	list, next, err := a.s.db.ListPresets(r.Context(), UserFrom(r.Context()).ID, after, limit)
	if err != nil {
		return err
	}
	items := make([]Preset, 0, len(list))
	for _, p := range list {
		v, err := presetView(p)
		if err != nil {
			return err
		}
		items = append(items, v)
	}
	return writeJSON(w, http.StatusOK, pageOf(items, next))
}

func (a *presetAPI) create(w http.ResponseWriter, r *http.Request) error {
	var req presetRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	var reqName string
	if req.Name != nil {
		reqName = *req.Name
	}
	name, err := presetName(reqName)
	if err != nil {
		return err
	}
	if req.Settings == nil {
		return errPresetNoSettings
	}
	u := UserFrom(r.Context())
	settings, err := a.checkSettings(r, u.ID, pipeline.PresetSettings(*req.Settings))
	if err != nil {
		return err
	}
	p := &store.Preset{UserID: u.ID, Name: name, Settings: settings}
	err = a.s.db.InTx(r.Context(), func(tx *store.Tx) error {
		// Serialises one user's creates on PostgreSQL, so the cap holds.
		if err := a.s.db.LockUser(r.Context(), tx, u.ID); err != nil {
			return err
		}
		n, err := a.s.db.CountPresets(r.Context(), tx, u.ID)
		if err != nil {
			return err
		}
		if n >= maxPresetsPerUser {
			return errPresetLimit
		}
		return a.s.db.CreatePreset(r.Context(), tx, p)
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/presets/"+p.ID)
	return writePreset(w, http.StatusCreated, p)
}

func (a *presetAPI) get(w http.ResponseWriter, r *http.Request) error {
	p, err := a.own(r)
	if err != nil {
		return err
	}
	return writePreset(w, http.StatusOK, p)
}

// update renames and/or replaces the settings; an absent field stays.
func (a *presetAPI) update(w http.ResponseWriter, r *http.Request) error {
	p, err := a.own(r)
	if err != nil {
		return err
	}
	var req presetRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Name != nil {
		if p.Name, err = presetName(*req.Name); err != nil {
			return err
		}
	}
	if req.Settings != nil {
		if p.Settings, err = a.checkSettings(r, p.UserID, pipeline.PresetSettings(*req.Settings)); err != nil {
			return err
		}
	}
	if err := a.s.db.InTx(r.Context(), func(tx *store.Tx) error { return a.s.db.UpdatePreset(r.Context(), tx, p) }); err != nil {
		return err
	}
	return writePreset(w, http.StatusOK, p)
}

func (a *presetAPI) delete(w http.ResponseWriter, r *http.Request) error {
	p, err := a.own(r)
	if err != nil {
		return err
	}
	if err := a.s.db.InTx(r.Context(), func(tx *store.Tx) error { return a.s.db.DeletePreset(r.Context(), tx, p.ID) }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
