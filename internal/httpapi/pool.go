package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/pool"
	"github.com/ludeng/ludeng/internal/store"
)

// PoolService is what the pool routes need from the pool manager.
type PoolService interface {
	Current() *pool.Snapshot
	VersionInfo() (number int, hash string, loadedAt time.Time)
	Mutate(ctx context.Context, audit store.AuditEntry, fn func(p *pool.Pool) error) (*store.PoolVersion, error)
	Reload(ctx context.Context) (number int, changed bool, err error)
}

// PoolRegion is a region as the API shows it: with its province.
type PoolRegion struct {
	*pool.Region
	ProvinceCode string `json:"province_code"`
	ProvinceName string `json:"province_name"`
}

// PoolRegionMatch is a region found by a search, with what matched best
// (name, alias, old_code, code, prefecture, province; empty without a query).
type PoolRegionMatch struct {
	PoolRegion
	MatchedField string `json:"matched_field"`
	MatchedText  string `json:"matched_text"`
}

// PoolProvince is a province with its number of counties.
type PoolProvince struct {
	*pool.Province
	CountyCount int `json:"county_count"`
}

// PoolVersion is the pool the server plans with.
type PoolVersion struct {
	Number   int         `json:"number" doc:"Sequence number of the stored version."`
	Version  string      `json:"version" doc:"Content hash of the pool."`
	LoadedAt time.Time   `json:"loaded_at"`
	Counts   pool.Counts `json:"counts"`
}

// PoolChange is the stored pool version an edit created.
type PoolChange struct {
	Number    int       `json:"number"`
	Version   string    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
}

// PoolReload says which version is current after a reload from the data
// files, and whether the reload changed it.
type PoolReload struct {
	Number  int  `json:"number"`
	Changed bool `json:"changed"`
}

// PoolElements are the elements that fit, with every category.
type PoolElements struct {
	Items      []*pool.Element  `json:"items" nonnull:""`
	Categories []*pool.Category `json:"categories" nonnull:""`
}

func regionOut(snap *pool.Snapshot, r *pool.Region) PoolRegion {
	out := PoolRegion{Region: r, ProvinceCode: r.ProvinceCode()}
	if p := snap.ProvinceOf(r); p != nil {
		out.ProvinceName = p.Name
	}
	return out
}

func (s *Server) handlePoolVersion(w http.ResponseWriter, r *http.Request) error {
	n, hash, at := s.pool.VersionInfo()
	return writeJSON(w, http.StatusOK, PoolVersion{Number: n, Version: hash, LoadedAt: at, Counts: s.pool.Current().Counts()})
}

func (s *Server) handlePoolProvinces(w http.ResponseWriter, r *http.Request) error {
	snap := s.pool.Current()
	var out []PoolProvince
	for _, p := range snap.Provinces() {
		out = append(out, PoolProvince{Province: p, CountyCount: snap.CountyCount(p.Code)})
	}
	return writeJSON(w, http.StatusOK, listOf(out))
}

func (s *Server) handlePoolCounties(w http.ResponseWriter, r *http.Request) error {
	snap := s.pool.Current()
	regions, err := snap.ByProvince(r.PathValue("code"))
	if err != nil {
		return err
	}
	out := make([]PoolRegion, 0, len(regions))
	for _, reg := range regions {
		out = append(out, regionOut(snap, reg))
	}
	return writeJSON(w, http.StatusOK, listOf(out))
}

func (s *Server) handlePoolSearch(w http.ResponseWriter, r *http.Request) error {
	snap := s.pool.Current()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return fault.New(fault.Invalid, "bad_limit", "limit must be between 1 and 200.").With("max", 200)
		}
		limit = n
	}
	var out []PoolRegionMatch
	if q == "" {
		for i, reg := range snap.Regions() {
			if i == limit {
				break
			}
			out = append(out, PoolRegionMatch{PoolRegion: regionOut(snap, reg)})
		}
	} else {
		for _, m := range snap.Search(q, limit) {
			out = append(out, PoolRegionMatch{PoolRegion: regionOut(snap, m.Region), MatchedField: m.Field, MatchedText: m.Text})
		}
	}
	return writeJSON(w, http.StatusOK, listOf(out))
}

func (s *Server) handlePoolRegion(w http.ResponseWriter, r *http.Request) error {
	snap := s.pool.Current()
	reg, err := snap.Region(r.PathValue("code"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, regionOut(snap, reg))
}

func (s *Server) handlePoolRoads(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, listOf(s.pool.Current().Roads()))
}

func (s *Server) handlePoolZones(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, listOf(s.pool.Current().Zones()))
}

// monthParam parses an optional month query parameter (0 = not given).
func monthParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("month")
	if v == "" {
		return 0, nil
	}
	m, err := strconv.Atoi(v)
	if err != nil || m < 1 || m > 12 {
		return 0, fault.New(fault.Invalid, "bad_month", "month must be 1–12.")
	}
	return m, nil
}

func (s *Server) handlePoolElements(w http.ResponseWriter, r *http.Request) error {
	snap := s.pool.Current()
	month, err := monthParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	elems, err := snap.ElementsFor(q.Get("zone"), month, q.Get("road"))
	if err != nil {
		return err
	}
	out := PoolElements{Items: elems, Categories: snap.Categories()}
	if out.Items == nil {
		out.Items = []*pool.Element{}
	}
	if out.Categories == nil {
		out.Categories = []*pool.Category{}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) handlePoolSeasons(w http.ResponseWriter, r *http.Request) error {
	month, err := monthParam(r)
	if err != nil {
		return err
	}
	seasons, err := s.pool.Current().Seasons(r.URL.Query().Get("zone"), month)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, listOf(seasons))
}

func (s *Server) poolAudit(r *http.Request, action, targetType, targetID string) store.AuditEntry {
	e := store.AuditEntry{Action: action, IP: clientFrom(r.Context()).IP, RequestID: requestIDFrom(r.Context()),
		Detail: map[string]any{"target_type": targetType, "target_id": targetID}}
	if u := UserFrom(r.Context()); u != nil {
		e.ActorID, e.ActorName = u.ID, u.Username
	}
	return e
}

func (s *Server) writeVersion(w http.ResponseWriter, status int, v *store.PoolVersion) error {
	return writeJSON(w, status, PoolChange{Number: v.Number, Version: v.Hash, CreatedAt: v.CreatedAt})
}

func (s *Server) handlePoolPutRegion(w http.ResponseWriter, r *http.Request) error {
	var reg pool.Region
	if err := decodeJSON(r, &reg); err != nil {
		return err
	}
	create := r.Method == http.MethodPost
	if !create && reg.Code != r.PathValue("code") {
		return fault.New(fault.Invalid, "code_mismatch", "The body's code must equal the code in the path; codes never change.")
	}
	status := http.StatusOK
	v, err := s.pool.Mutate(r.Context(), s.poolAudit(r, "pool.region_put", "region", reg.Code), func(p *pool.Pool) error {
		exists := false
		for i := range p.Regions {
			if p.Regions[i].Code == reg.Code {
				exists = true
			}
		}
		if create && exists {
			return fault.Newf(fault.Conflict, "region_exists", "Region %s already exists; use PUT to change it.", reg.Code).With("code", reg.Code)
		}
		if !create && !exists {
			return fault.Newf(fault.NotFound, "region_not_found", "No region has code %s.", reg.Code)
		}
		if create {
			status = http.StatusCreated
		}
		p.PutRegion(reg)
		return nil
	})
	if err != nil {
		return err
	}
	return s.writeVersion(w, status, v)
}

func (s *Server) handlePoolDeleteRegion(w http.ResponseWriter, r *http.Request) error {
	code := r.PathValue("code")
	v, err := s.pool.Mutate(r.Context(), s.poolAudit(r, "pool.region_delete", "region", code), func(p *pool.Pool) error {
		if !p.DeleteRegion(code) {
			return fault.Newf(fault.NotFound, "region_not_found", "No region has code %s.", code)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.writeVersion(w, http.StatusOK, v)
}

func (s *Server) handlePoolPutElement(w http.ResponseWriter, r *http.Request) error {
	var el pool.Element
	if err := decodeJSON(r, &el); err != nil {
		return err
	}
	create := r.Method == http.MethodPost
	if !create && el.ID != r.PathValue("id") {
		return fault.New(fault.Invalid, "id_mismatch", "The body's id must equal the id in the path; ids never change.")
	}
	status := http.StatusOK
	v, err := s.pool.Mutate(r.Context(), s.poolAudit(r, "pool.element_put", "element", el.ID), func(p *pool.Pool) error {
		exists := false
		for i := range p.Elements {
			if p.Elements[i].ID == el.ID {
				exists = true
			}
		}
		if create && exists {
			return fault.Newf(fault.Conflict, "element_exists", "Element %s already exists; use PUT to change it.", el.ID).With("id", el.ID)
		}
		if !create && !exists {
			return fault.Newf(fault.NotFound, "element_not_found", "No element has id %s.", el.ID)
		}
		if create {
			status = http.StatusCreated
		}
		p.PutElement(el)
		return nil
	})
	if err != nil {
		return err
	}
	return s.writeVersion(w, status, v)
}

func (s *Server) handlePoolDeleteElement(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	v, err := s.pool.Mutate(r.Context(), s.poolAudit(r, "pool.element_delete", "element", id), func(p *pool.Pool) error {
		if !p.DeleteElement(id) {
			return fault.Newf(fault.NotFound, "element_not_found", "No element has id %s.", id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.writeVersion(w, http.StatusOK, v)
}

func (s *Server) handlePoolReload(w http.ResponseWriter, r *http.Request) error {
	n, changed, err := s.pool.Reload(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, PoolReload{Number: n, Changed: changed})
}
