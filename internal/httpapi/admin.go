package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/ludeng/ludeng/internal/auth"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/store"
)

// pageParams reads ?limit=&cursor= with a default and maximum limit.
func pageParams(r *http.Request, def, maxLimit int) (limit int, cursor string, err error) {
	limit = def
	if v := r.URL.Query().Get("limit"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 1 || n > maxLimit {
			return 0, "", fault.Newf(fault.Invalid, "bad_limit", "limit must be between 1 and %d.", maxLimit).With("max", maxLimit)
		}
		limit = n
	}
	cursor, err = store.DecodeCursor(r.URL.Query().Get("cursor"))
	return limit, cursor, err
}

// PageParams is pageParams for other packages' routes.
func PageParams(r *http.Request, def, maxLimit int) (int, string, error) {
	return pageParams(r, def, maxLimit)
}

func (s *Server) handleAdminListUsers(w http.ResponseWriter, r *http.Request) error {
	limit, cursor, err := pageParams(r, 50, 200)
	if err != nil {
		return err
	}
	users, err := s.db.ListUsers(r.Context(), cursor, limit+1)
	if err != nil {
		return err
	}
	next := ""
	if len(users) > limit {
		users = users[:limit]
		next = store.EncodeCursor(users[limit-1].ID)
	}
	return writeJSON(w, http.StatusOK, pageOf(users, next))
}

type createUserRequest struct {
	Username string `json:"username" example:"ann"`
	Password string `json:"password" doc:"At least 10 characters."`
	Role     string `json:"role,omitempty" enum:"operator,admin" doc:"Default: operator."`
}

// ValidUsername enforces the username policy shared by the API and the CLI.
func ValidUsername(name string) error {
	if len(name) < 2 || len(name) > 64 {
		return fault.New(fault.Invalid, "bad_username", "A username has 2–64 characters: letters, digits, '.', '_' or '-'.")
	}
	for _, c := range name {
		if !(c == '.' || c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fault.New(fault.Invalid, "bad_username", "A username has 2–64 characters: letters, digits, '.', '_' or '-'.")
		}
	}
	return nil
}

func validRole(role string) error {
	if role != store.RoleOperator && role != store.RoleAdmin {
		return fault.New(fault.Invalid, "bad_role", "role must be operator or admin.").With("allowed", []string{"operator", "admin"})
	}
	return nil
}

func (s *Server) handleAdminCreateUser(w http.ResponseWriter, r *http.Request) error {
	var req createUserRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	req.Username = strings.TrimSpace(req.Username)
	if req.Role == "" {
		req.Role = store.RoleOperator
	}
	if err := ValidUsername(req.Username); err != nil {
		return err
	}
	if err := validRole(req.Role); err != nil {
		return err
	}
	if err := auth.ValidatePassword(req.Password); err != nil {
		return fault.New(fault.Unprocessable, "weak_password", err.Error()).With("min_length", 10)
	}
	hash, err := auth.Hash(req.Password, s.cfg.PasswordParams)
	if err != nil {
		return err
	}
	var u *store.User
	err = s.db.InTx(r.Context(), func(tx *store.Tx) error {
		if u, err = s.db.CreateUser(r.Context(), tx, req.Username, hash, req.Role); err != nil {
			return err
		}
		return s.audit(r, tx, "user.create", "user", u.ID, map[string]any{"username": u.Username, "role": u.Role})
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/admin/users/"+u.ID)
	return writeJSON(w, http.StatusCreated, u)
}

func (s *Server) handleAdminGetUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.db.UserByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

// updateUserRequest changes what it names; an absent field stays.
type updateUserRequest struct {
	Role     *string `json:"role,omitempty" enum:"operator,admin"`
	Disabled *bool   `json:"disabled,omitempty"`
	Password *string `json:"password,omitempty" doc:"A new password (at least 10 characters); ends the user's sessions and tokens."`
}

func (s *Server) handleAdminUpdateUser(w http.ResponseWriter, r *http.Request) error {
	var req updateUserRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	var upd store.UserUpdate
	detail := map[string]any{}
	if req.Role != nil {
		if err := validRole(*req.Role); err != nil {
			return err
		}
		upd.Role, detail["role"] = req.Role, *req.Role
	}
	if req.Disabled != nil {
		upd.Disabled, detail["disabled"] = req.Disabled, *req.Disabled
	}
	if req.Password != nil {
		if err := auth.ValidatePassword(*req.Password); err != nil {
			return fault.New(fault.Unprocessable, "weak_password", err.Error()).With("min_length", 10)
		}
		hash, err := auth.Hash(*req.Password, s.cfg.PasswordParams)
		if err != nil {
			return err
		}
		upd.PasswordHash, detail["password_reset"] = &hash, true
	}
	if len(detail) == 0 {
		return fault.New(fault.Invalid, "nothing_to_update", "Send at least one of role, disabled, password.")
	}
	me := UserFrom(r.Context())
	if id == me.ID && ((req.Disabled != nil && *req.Disabled) || (req.Role != nil && *req.Role != store.RoleAdmin)) {
		return fault.New(fault.Conflict, "cannot_demote_self", "Admins cannot disable or demote themselves.")
	}
	var u *store.User
	err := s.db.InTx(r.Context(), func(tx *store.Tx) error {
		var err error
		if u, err = s.db.UpdateUser(r.Context(), tx, id, upd); err != nil {
			return err
		}
		return s.audit(r, tx, "user.update", "user", id, detail)
	})
	if err != nil {
		return err
	}
	s.notifyRights(id)
	return writeJSON(w, http.StatusOK, u)
}

func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request) error {
	limit, cursor, err := pageParams(r, 50, 500)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	items, err := s.db.ListAudit(r.Context(), store.AuditFilter{Action: q.Get("action"), TargetType: q.Get("target_type"),
		TargetID: q.Get("target_id"), Before: cursor, Limit: limit + 1})
	if err != nil {
		return err
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = store.EncodeCursor(items[limit-1].ID)
	}
	return writeJSON(w, http.StatusOK, pageOf(items, next))
}
