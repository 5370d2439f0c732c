package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/auth"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/signedurl"
	"github.com/ludeng/ludeng/internal/store"
)

// SessionCookie is the browser session cookie's name.
const SessionCookie = "ludeng_session"

// Principal is the authenticated caller.
type Principal struct {
	User        *store.User
	Token       *store.APIToken // set for API-token requests
	SessionHash string          // set for cookie requests
}

func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(keyPrincipal).(*Principal)
	return p
}

// UserFrom returns the authenticated user of ctx, or nil.
func UserFrom(ctx context.Context) *store.User {
	if p := principalFrom(ctx); p != nil {
		return p.User
	}
	return nil
}

// CanSee reports whether the caller may see a resource owned by ownerID.
// Handlers answer NotFound (never Forbidden) when it is false, so resource
// ids of other users are not even confirmed to exist.
func CanSee(ctx context.Context, ownerID string) bool {
	u := UserFrom(ctx)
	return u != nil && (u.ID == ownerID || u.IsAdmin())
}

var errUnauthenticated = fault.New(fault.Unauthenticated, "unauthenticated", "Sign in or send a valid API token.")

// authenticate resolves the principal from a Bearer token or the session
// cookie and enforces the route's access level.
func (s *Server) authenticate(access Access, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if access == Public {
			next.ServeHTTP(w, r)
			return
		}
		p, err := s.resolve(r)
		if err != nil {
			s.writeProblem(w, r, err)
			return
		}
		if access == AdminOnly && !p.User.IsAdmin() {
			s.writeProblem(w, r, fault.New(fault.Forbidden, "admin_required", "This action needs the admin role."))
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), keyPrincipal, p))
		liftDeadlines(r)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) resolve(r *http.Request) (*Principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			return nil, errUnauthenticated
		}
		u, t, err := s.db.TokenUser(ctx, auth.TokenHash(strings.TrimSpace(tok)))
		if errors.Is(err, store.ErrNotFound) {
			return nil, errUnauthenticated
		}
		if err != nil {
			return nil, err
		}
		// Tokens made before lifetimes were capped have no expiry; they end
		// at the maximum lifetime counted from their creation.
		if t.ExpiresAt == nil && s.now().Sub(t.CreatedAt) > s.cfg.TokenMaxTTL {
			return nil, errUnauthenticated
		}
		s.db.TouchToken(ctx, t.ID)
		return &Principal{User: u, Token: t}, nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, errUnauthenticated
	}
	h := auth.TokenHash(c.Value)
	u, err := s.db.SessionUser(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	return &Principal{User: u, SessionHash: h}, nil
}

// linkUser checks a signed link on r and returns the user it acts for. A
// disabled user, or a generation the user has since bumped (logout
// everywhere, password change, disable), voids it.
func (s *Server) linkUser(r *http.Request, signer signedurl.Signer) (*store.User, error) {
	uid, gen, err := signer.Verify(r.URL.Path, r.URL.Query())
	if err != nil {
		return nil, err
	}
	u, err := s.db.UserByID(r.Context(), uid)
	if err != nil || u.Disabled || u.LinkGeneration != gen {
		return nil, signedurl.ErrInvalid
	}
	return u, nil
}

func (s *Server) audit(r *http.Request, tx *store.Tx, action, targetType, targetID string, detail map[string]any) error {
	e := store.AuditEntry{Action: action, TargetType: targetType, TargetID: targetID, Detail: detail,
		IP: clientFrom(r.Context()).IP, RequestID: requestIDFrom(r.Context())}
	if u := UserFrom(r.Context()); u != nil {
		e.ActorID, e.ActorName = u.ID, u.Username
	}
	return s.db.Audit(r.Context(), tx, e)
}

// Audit records an action by the request's user (for other packages' routes).
func (s *Server) Audit(r *http.Request, tx *store.Tx, action, targetType, targetID string, detail map[string]any) error {
	return s.audit(r, tx, action, targetType, targetID, detail)
}

type loginRequest struct {
	Username string `json:"username" example:"admin"`
	Password string `json:"password"`
}

// Me is the signed-in caller: the user, and the API token when the request
// was authenticated by one (login answers the user only).
type Me struct {
	User  *store.User     `json:"user" nonnull:""`
	Token *store.APIToken `json:"token,omitempty"`
}

// CreatedToken answers a token creation: the raw token, shown this once.
type CreatedToken struct {
	Token    string          `json:"token" doc:"The bearer token; it is never shown again."`
	APIToken *store.APIToken `json:"api_token" nonnull:""`
}

// maxLoginUsername caps the username of a login before it is throttled,
// hashed against or written to the audit log; no account can have a longer
// one (ValidUsername), so nothing legitimate is refused.
const maxLoginUsername = 64

var errAuthBusy = func() error {
	e := fault.New(fault.Unavailable, "auth_busy", "Too many sign-ins are being checked right now; retry in a moment.")
	e.RetryAfter = 1
	return e
}

// verifyPassword runs one argon2id check under the global hash gate, so
// concurrent attempts cost at most HashSlots × the hash's memory.
// A malformed stored hash counts as a mismatch.
func (s *Server) verifyPassword(ctx context.Context, hash, password string) (match bool, err error) {
	if !s.hashGate.Acquire(ctx) {
		return false, errAuthBusy()
	}
	defer s.hashGate.Release()
	return auth.Verify(hash, password) == nil, nil
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" {
		return fault.New(fault.Invalid, "credentials_required", "Username and password are required.")
	}
	if len(req.Username) > maxLoginUsername || len(req.Password) > 256 {
		return fault.New(fault.Invalid, "credentials_too_long", "A username has at most 64 characters and a password at most 256 bytes.")
	}
	ip := clientFrom(r.Context()).IP
	end, wait := s.throttle.Begin(req.Username, ip)
	if wait > 0 {
		return errRateLimited("login_throttled", wait)
	}
	ok := false
	defer func() { end(ok) }()
	bad := fault.New(fault.Unauthenticated, "invalid_credentials", "Wrong username or password.")
	u, err := s.db.UserByName(r.Context(), req.Username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if u == nil || u.Disabled {
		// Spend the same time as a real check so response timing does not reveal
		// which usernames exist.
		if _, busy := s.verifyPassword(r.Context(), s.dummyHash, req.Password); busy != nil {
			ok = true // not a guess: nothing was checked
			return busy
		}
		_ = s.db.Audit(r.Context(), nil, store.AuditEntry{ActorName: req.Username, Action: "auth.login_failed", TargetType: "user", IP: ip, RequestID: requestIDFrom(r.Context())})
		return bad
	}
	match, busy := s.verifyPassword(r.Context(), u.PasswordHash, req.Password)
	if busy != nil {
		ok = true
		return busy
	}
	if !match {
		_ = s.db.Audit(r.Context(), nil, store.AuditEntry{ActorID: u.ID, ActorName: u.Username, Action: "auth.login_failed", TargetType: "user", TargetID: u.ID, IP: ip, RequestID: requestIDFrom(r.Context())})
		return bad
	}
	ok = true
	token := auth.RandomToken()
	if err := s.db.CreateSession(r.Context(), auth.TokenHash(token), u.ID, s.cfg.SessionTTL, ip, r.UserAgent()); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: clientFrom(r.Context()).HTTPS, MaxAge: int(s.cfg.SessionTTL / time.Second),
	})
	return writeJSON(w, http.StatusOK, Me{User: u})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if p.SessionHash != "" {
		if err := s.db.DeleteSession(r.Context(), p.SessionHash); err != nil {
			return err
		}
		s.notifyRights(p.User.ID)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: clientFrom(r.Context()).HTTPS})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleLogoutAll ends every session of the caller and voids the signed
// links handed out so far; API tokens are revoked one by one.
func (s *Server) handleLogoutAll(w http.ResponseWriter, r *http.Request) error {
	u := UserFrom(r.Context())
	err := s.db.InTx(r.Context(), func(tx *store.Tx) error {
		if err := s.db.LogoutAll(r.Context(), tx, u.ID); err != nil {
			return err
		}
		return s.audit(r, tx, "auth.logout_all", "user", u.ID, nil)
	})
	if err != nil {
		return err
	}
	s.notifyRights(u.ID)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: clientFrom(r.Context()).HTTPS})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	return writeJSON(w, http.StatusOK, Me{User: p.User, Token: p.Token})
}

type passwordRequest struct {
	Current string `json:"current_password"`
	New     string `json:"new_password" doc:"At least 10 characters."`
}

func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) error {
	var req passwordRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u := UserFrom(r.Context())
	// The same throttle as login: a stolen session or token must not become
	// an unthrottled oracle for the account's password.
	end, wait := s.throttle.Begin(u.Username, clientFrom(r.Context()).IP)
	if wait > 0 {
		return errRateLimited("password_throttled", wait)
	}
	match, busy := s.verifyPassword(r.Context(), u.PasswordHash, req.Current)
	if busy != nil {
		end(true)
		return busy
	}
	end(match)
	if !match {
		return fault.New(fault.Forbidden, "wrong_password", "The current password is wrong.")
	}
	if err := auth.ValidatePassword(req.New); err != nil {
		return fault.New(fault.Unprocessable, "weak_password", err.Error()).With("min_length", 10)
	}
	hash, err := auth.Hash(req.New, s.cfg.PasswordParams)
	if err != nil {
		return err
	}
	err = s.db.InTx(r.Context(), func(tx *store.Tx) error {
		// UpdateUser revokes every session and token; the caller signs in again.
		if _, err := s.db.UpdateUser(r.Context(), tx, u.ID, store.UserUpdate{PasswordHash: &hash}); err != nil {
			return err
		}
		return s.audit(r, tx, "user.password_change", "user", u.ID, nil)
	})
	if err != nil {
		return err
	}
	s.notifyRights(u.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := s.db.ListAPITokens(r.Context(), UserFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	// One page: a user has at most MaxTokensPerUser live tokens.
	return writeJSON(w, http.StatusOK, pageOf(toks, ""))
}

type tokenRequest struct {
	Name      string `json:"name" example:"ci"`
	ExpiresIn string `json:"expires_in,omitempty" example:"90d" doc:"Lifetime; default and maximum LUDENG_TOKEN_MAX_TTL."`
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 || !safeName(req.Name) {
		return fault.New(fault.Invalid, "token_name_required", "A token name of 1–100 characters without control or bidirectional-override characters is required.")
	}
	// Every token expires: an unset expires_in gets the maximum lifetime.
	d := s.cfg.TokenMaxTTL
	if req.ExpiresIn != "" {
		var err error
		d, err = config.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return fault.New(fault.Invalid, "bad_expires_in", "expires_in must be a positive duration such as 90d or 12h.")
		}
		if d > s.cfg.TokenMaxTTL {
			return fault.Newf(fault.Unprocessable, "expires_in_too_long", "expires_in may be at most %s.", s.cfg.TokenMaxTTL).
				With("max_seconds", int64(s.cfg.TokenMaxTTL/time.Second))
		}
	}
	expAt := s.now().Add(d).UTC()
	exp := &expAt
	u := UserFrom(r.Context())
	token, prefix := auth.NewAPIToken()
	var t *store.APIToken
	err := s.db.InTx(r.Context(), func(tx *store.Tx) error {
		n, err := s.db.CountLiveAPITokens(r.Context(), tx, u.ID)
		if err != nil {
			return err
		}
		if n >= s.cfg.MaxTokensPerUser {
			return fault.Newf(fault.Conflict, "too_many_tokens", "You already have %d live API tokens; revoke one first.", n).
				With("max_tokens", s.cfg.MaxTokensPerUser)
		}
		if t, err = s.db.CreateAPIToken(r.Context(), tx, u.ID, req.Name, auth.TokenHash(token), prefix, exp); err != nil {
			return err
		}
		return s.audit(r, tx, "token.create", "api_token", t.ID, map[string]any{"name": req.Name})
	})
	if err != nil {
		return err
	}
	// The raw token is shown exactly once.
	return writeJSON(w, http.StatusCreated, CreatedToken{Token: token, APIToken: t})
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) error {
	t, err := s.db.APITokenByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if !CanSee(r.Context(), t.UserID) {
		return store.ErrNotFound
	}
	err = s.db.InTx(r.Context(), func(tx *store.Tx) error {
		if err := s.db.RevokeAPIToken(r.Context(), tx, t.ID); err != nil {
			return err
		}
		return s.audit(r, tx, "token.revoke", "api_token", t.ID, nil)
	})
	if err != nil {
		return err
	}
	s.notifyRights(t.UserID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
