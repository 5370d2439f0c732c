package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/batchview"
	"github.com/ludeng/ludeng/internal/store"
)

func (a *batchAPI) history(w http.ResponseWriter, r *http.Request) error {
	limit, _, err := pageParams(r, 50, 500)
	if err != nil {
		return err
	}
	f := store.HistoryFilter{Cursor: r.URL.Query().Get("cursor"), Limit: limit}
	if s := r.URL.Query().Get("state"); s != "" {
		f.States = strings.Split(s, ",")
	}
	rows, next, err := a.s.db.ListHistory(r.Context(), UserFrom(r.Context()).ID, f)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []*store.HistoryRow{}
	}
	return writeJSON(w, http.StatusOK, batchview.HistoryPage{Items: rows, NextCursor: next})
}

func (a *batchAPI) archive(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Before *time.Time `json:"before"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	before := a.s.now()
	if req.Before != nil {
		before = *req.Before
	}
	var n int64
	err := a.s.db.InTx(r.Context(), func(tx *store.Tx) error {
		var err error
		n, err = a.s.db.ArchiveHistory(r.Context(), tx, UserFrom(r.Context()).ID, before)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, batchview.Archived{Archived: n})
}
