package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ludeng/ludeng/internal/fault"
)

// Roles.
const (
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

// User is an account. PasswordHash is never serialised.
type User struct {
	ID                  string `json:"id"`
	Username            string `json:"username"`
	PasswordHash        string `json:"-"`
	Role                string `json:"role" enum:"operator,admin"`
	Disabled            bool   `json:"disabled"`
	DailyBudgetMicros   *int64 `json:"-"`
	MonthlyBudgetMicros *int64 `json:"-"`
	// LinkGeneration is carried by every signed link; bumping it voids them.
	LinkGeneration int64     `json:"-"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// IsAdmin reports whether the user has the admin role.
func (u *User) IsAdmin() bool { return u.Role == RoleAdmin }

// NewID returns a new UUIDv7 string: time-ordered, so ids double as cursors.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

const userCols = "id, username, password_hash, role, disabled, daily_budget_micros, monthly_budget_micros, created_at, updated_at, link_generation"

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	var daily, monthly sql.NullInt64
	var created, updated int64
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Role, &u.Disabled, &daily, &monthly, &created, &updated, &u.LinkGeneration); err != nil {
		return nil, notFound(err)
	}
	if daily.Valid {
		u.DailyBudgetMicros = &daily.Int64
	}
	if monthly.Valid {
		u.MonthlyBudgetMicros = &monthly.Int64
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, nil
}

// CreateUser inserts a user; a taken username is ErrConflict (code username_taken).
func (db *DB) CreateUser(ctx context.Context, tx *Tx, username, passwordHash, role string) (*User, error) {
	now := db.now().UTC()
	u := &User{ID: NewID(), Username: username, PasswordHash: passwordHash, Role: role, CreatedAt: now, UpdatedAt: now}
	_, err := db.exec(ctx, tx, "INSERT INTO users ("+userCols+") VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, $6, 0)",
		u.ID, u.Username, u.PasswordHash, u.Role, false, micros(now))
	if isUniqueViolation(err) {
		return nil, fault.Newf(fault.Conflict, "username_taken", "The username %q is already taken.", username).With("username", username)
	}
	if err != nil {
		return nil, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

// UserByID returns a user.
func (db *DB) UserByID(ctx context.Context, id string) (*User, error) {
	return scanUser(db.queryRow(ctx, db.R, "SELECT "+userCols+" FROM users WHERE id = $1", id))
}

// UserByName returns a user by username (case-sensitive).
func (db *DB) UserByName(ctx context.Context, name string) (*User, error) {
	return scanUser(db.queryRow(ctx, db.R, "SELECT "+userCols+" FROM users WHERE username = $1", name))
}

// ListUsers returns users ordered by id after cursor.
func (db *DB) ListUsers(ctx context.Context, after string, limit int) ([]*User, error) {
	rows, err := db.query(ctx, db.R, "SELECT "+userCols+" FROM users WHERE id > $1 ORDER BY id LIMIT $2", after, limit)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("scan user: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CountAdmins returns the number of enabled admins.
func (db *DB) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := db.queryRow(ctx, db.R, "SELECT COUNT(*) FROM users WHERE role = $1 AND disabled = $2", RoleAdmin, false).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count admins: %w", err)
	}
	return n, nil
}

// UserUpdate holds optional changes; nil fields are left alone.
type UserUpdate struct {
	Role         *string
	Disabled     *bool
	PasswordHash *string
	DailyBudget  **int64
	MonthBudget  **int64
}

// UpdateUser applies u. Disabling a user or changing their password revokes
// every session and API token in the same transaction, so access ends at once.
func (db *DB) UpdateUser(ctx context.Context, tx *Tx, id string, u UserUpdate) (*User, error) {
	var sets []string
	var args []any
	add := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if u.Role != nil {
		add("role", *u.Role)
	}
	if u.Disabled != nil {
		add("disabled", *u.Disabled)
	}
	if u.PasswordHash != nil {
		add("password_hash", *u.PasswordHash)
	}
	if u.DailyBudget != nil {
		add("daily_budget_micros", nullInt(*u.DailyBudget))
	}
	if u.MonthBudget != nil {
		add("monthly_budget_micros", nullInt(*u.MonthBudget))
	}
	now := db.now()
	add("updated_at", micros(now))
	args = append(args, id)
	res, err := db.exec(ctx, tx, "UPDATE users SET "+strings.Join(sets, ", ")+fmt.Sprintf(" WHERE id = $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrNotFound
	}
	if (u.Disabled != nil && *u.Disabled) || u.PasswordHash != nil {
		if err := db.revokeAll(ctx, tx, id); err != nil {
			return nil, err
		}
	}
	return scanUser(db.queryRow(ctx, tx, "SELECT "+userCols+" FROM users WHERE id = $1", id))
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func (db *DB) revokeAll(ctx context.Context, tx *Tx, userID string) error {
	if err := db.LogoutAll(ctx, tx, userID); err != nil {
		return err
	}
	if _, err := db.exec(ctx, tx, "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL", micros(db.now()), userID); err != nil {
		return fmt.Errorf("revoke tokens: %w", err)
	}
	return nil
}

// LogoutAll ends every browser session of the user and voids the signed
// links handed out so far (API tokens stay; they are revoked one by one).
func (db *DB) LogoutAll(ctx context.Context, tx *Tx, userID string) error {
	if _, err := db.exec(ctx, tx, "DELETE FROM sessions WHERE user_id = $1", userID); err != nil {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	if _, err := db.exec(ctx, tx, "UPDATE users SET link_generation = link_generation + 1 WHERE id = $1", userID); err != nil {
		return fmt.Errorf("bump link generation: %w", err)
	}
	return nil
}

// Session is a server-side browser session; the cookie holds the raw token,
// the table only its hash, so a database leak does not leak live sessions.
type Session struct {
	IDHash    string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateSession stores a session by token hash.
func (db *DB) CreateSession(ctx context.Context, idHash, userID string, ttl time.Duration, ip, ua string) error {
	now := db.now()
	_, err := db.exec(ctx, db.W, `INSERT INTO sessions (id_hash, user_id, created_at, expires_at, last_seen_at, ip, user_agent)
		VALUES ($1, $2, $3, $4, $3, $5, $6)`, idHash, userID, micros(now), micros(now.Add(ttl)), ip, truncate(ua, 256))
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionUser resolves a live session to its (enabled) user.
func (db *DB) SessionUser(ctx context.Context, idHash string) (*User, error) {
	row := db.queryRow(ctx, db.R, "SELECT u."+strings.ReplaceAll(userCols, ", ", ", u.")+
		" FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled = $3",
		idHash, micros(db.now()), false)
	return scanUser(row)
}

// DeleteSession ends a session.
func (db *DB) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := db.exec(ctx, db.W, "DELETE FROM sessions WHERE id_hash = $1", idHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past expiry.
func (db *DB) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := db.exec(ctx, db.W, "DELETE FROM sessions WHERE expires_at <= $1", micros(db.now()))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}

// APIToken is an integration token; only its hash is stored.
type APIToken struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

const tokenCols = "id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at"

func scanToken(row interface{ Scan(...any) error }) (*APIToken, error) {
	var t APIToken
	var created int64
	var exp, used, rev sql.NullInt64
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &created, &exp, &used, &rev); err != nil {
		return nil, notFound(err)
	}
	t.CreatedAt = fromMicros(created)
	t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromNullMicros(exp), fromNullMicros(used), fromNullMicros(rev)
	return &t, nil
}

// CreateAPIToken stores a token hash.
func (db *DB) CreateAPIToken(ctx context.Context, tx *Tx, userID, name, tokenHash, prefix string, expires *time.Time) (*APIToken, error) {
	t := &APIToken{ID: NewID(), UserID: userID, Name: name, Prefix: prefix, CreatedAt: db.now().UTC(), ExpiresAt: expires}
	var x querier = db.W
	if tx != nil {
		x = tx
	}
	_, err := db.exec(ctx, x, `INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, t.ID, userID, name, tokenHash, prefix, micros(t.CreatedAt), nullMicros(expires))
	if err != nil {
		return nil, fmt.Errorf("insert api token: %w", err)
	}
	return t, nil
}

// TokenUser resolves a live token hash to its enabled user and token.
func (db *DB) TokenUser(ctx context.Context, tokenHash string) (*User, *APIToken, error) {
	t, err := scanToken(db.queryRow(ctx, db.R, "SELECT "+tokenCols+
		" FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
		tokenHash, micros(db.now())))
	if err != nil {
		return nil, nil, err
	}
	u, err := db.UserByID(ctx, t.UserID)
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, ErrNotFound
	}
	return u, t, nil
}

// TouchToken records the token's last use. It is best effort and coarse
// (once a minute) so that reads do not turn into writes on every request.
func (db *DB) TouchToken(ctx context.Context, id string) {
	now := micros(db.now())
	_, _ = db.exec(ctx, db.W, "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
		now, id, now-int64(time.Minute/time.Microsecond))
}

// CountLiveAPITokens counts a user's tokens that are neither revoked nor expired.
func (db *DB) CountLiveAPITokens(ctx context.Context, tx *Tx, userID string) (int, error) {
	var x querier = db.R
	if tx != nil {
		x = tx
	}
	var n int
	err := db.queryRow(ctx, x, "SELECT COUNT(*) FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
		userID, micros(db.now())).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

// ListAPITokens lists a user's tokens, newest first.
func (db *DB) ListAPITokens(ctx context.Context, userID string) ([]*APIToken, error) {
	rows, err := db.query(ctx, db.R, "SELECT "+tokenCols+" FROM api_tokens WHERE user_id = $1 ORDER BY id DESC", userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []*APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("scan token: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// APITokenByID returns a token.
func (db *DB) APITokenByID(ctx context.Context, id string) (*APIToken, error) {
	return scanToken(db.queryRow(ctx, db.R, "SELECT "+tokenCols+" FROM api_tokens WHERE id = $1", id))
}

// RevokeAPIToken marks a token revoked.
func (db *DB) RevokeAPIToken(ctx context.Context, tx *Tx, id string) error {
	_, err := db.exec(ctx, tx, "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", micros(db.now()), id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// EncodeCursor and DecodeCursor make opaque list cursors out of row keys.
func EncodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// DecodeCursor reverses EncodeCursor; a malformed cursor is a 400.
func DecodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", fault.New(fault.Invalid, "bad_cursor", "The cursor is malformed.")
	}
	return string(b), nil
}

// timePage trims rows fetched with limit+1 (newest first by created_at, id)
// and returns the cursor continuing after the last row kept.
func timePage[T any](rows []T, limit int, key func(T) (time.Time, string)) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	at, id := key(rows[limit-1])
	return rows, EncodeCursor(strconv.FormatInt(micros(at), 10) + "/" + id)
}

// decodeTimeCursor reverses timePage's cursor.
func decodeTimeCursor(c string) (int64, string, error) {
	k, err := DecodeCursor(c)
	if err != nil {
		return 0, "", err
	}
	at, id, ok := strings.Cut(k, "/")
	v, perr := strconv.ParseInt(at, 10, 64)
	if !ok || perr != nil {
		return 0, "", fault.New(fault.Invalid, "bad_cursor", "The cursor is malformed.")
	}
	return v, id, nil
}
