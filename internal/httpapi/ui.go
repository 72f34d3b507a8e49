package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/service"
)

// The web UI: a person's own tokens, the applications they approved, and,
// with the permissions for it, other users' tokens. Who may see, create or
// revoke what is the service's decision (Owner, SearchUsers), the same one
// the API gets, so a page allows and refuses exactly what the API does and
// shows a button only where pressing it would succeed. Page handlers
// return their errors to the adapter the API's handlers have (ui, then
// fail in errors.go): the same status for the same error.

// signedIn returns the signed-in person as a principal (no token, so no
// scope limits them: only their permissions), or sends them to sign in,
// to come back to back, and returns nil.
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request, back string) *latchkey.Principal {
	u := s.sessionUserOrNil(r)
	if u == nil {
		redirectToLogin(w, r, back)
		return nil
	}
	return &latchkey.Principal{User: u, Origin: latchkey.Origin{Address: s.clientIP(r), UserAgent: r.UserAgent()}}
}

// signedInAt is signedIn, then place: the person, and whose tokens the
// request is about once the service has cleared them to do a. A nil
// principal with a nil error: they were sent to sign in.
func (s *Server) signedInAt(w http.ResponseWriter, r *http.Request, back string, a latchkey.Action) (*latchkey.Principal, *place, error) {
	p := s.signedIn(w, r, back)
	if p == nil {
		return nil, nil, nil
	}
	pl, err := s.place(r, p, a)
	if err != nil {
		return nil, nil, err
	}
	return p, pl, nil
}

// uiHome sends a signed-in person to their tokens, anyone else to sign in.
func (s *Server) uiHome(w http.ResponseWriter, r *http.Request) {
	if s.sessionUserOrNil(r) == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/tokens", http.StatusSeeOther)
}

// tokensShown is the most tokens a page lists, newest first.
const tokensShown = 200

// place is whose tokens a request is about, and where their pages are:
// /tokens for one's own, /users/{id} for someone else's.
type place struct {
	owner  *latchkey.User
	self   bool
	page   string // the list and the form
	tokens string // the tokens' own addresses start here
}

// place returns the owner of the tokens r is about, after the service has
// cleared p to do a to them: the user in the path, or p's own user when
// the path names none.
func (s *Server) place(r *http.Request, p *latchkey.Principal, a latchkey.Action) (*place, error) {
	raw := r.PathValue("user_id")
	if raw == "" {
		raw = strconv.FormatInt(p.User.ID, 10)
	}
	owner, err := s.svc.Owner(r.Context(), p, a, raw)
	if err != nil {
		return nil, err
	}
	return placeOf(p, owner), nil
}

func placeOf(p *latchkey.Principal, owner *latchkey.User) *place {
	if owner.ID == p.User.ID {
		return &place{owner: owner, self: true, page: "/tokens", tokens: "/tokens"}
	}
	base := "/users/" + strconv.FormatInt(owner.ID, 10)
	return &place{owner: owner, page: base, tokens: base + "/tokens"}
}

// nav is the menu entry a place's pages belong to.
func (pl *place) nav() string {
	if pl.self {
		return "tokens"
	}
	return "users"
}

// title names a place's list for people.
func (pl *place) title() string {
	if pl.self {
		return "My tokens"
	}
	return "Tokens of " + pl.owner.Username
}

// moment is a time as the pages show it; the zero value is never.
type moment struct{ t *time.Time }

func (m moment) Never() bool { return m.t == nil }

// Day is the date, in UTC.
func (m moment) Day() string { return m.t.UTC().Format(time.DateOnly) }

// Clock is the time of day, in UTC.
func (m moment) Clock() string { return m.t.UTC().Format("15:04 UTC") }

// ISO is the machine-readable form, for <time datetime>.
func (m moment) ISO() string { return m.t.UTC().Format(time.RFC3339) }

func (m moment) String() string {
	if m.t == nil {
		return "never"
	}
	return m.Day() + " " + m.Clock()
}

// tokenRow is one token as a page shows it.
type tokenRow struct {
	ID, Name  string
	Scopes    []string // empty: every ability
	Created   moment
	Expires   moment
	LastUsed  moment
	State     string // active, expired or revoked
	RevokeURL string // the confirmation page; "" when the viewer may not revoke it, or it is revoked
	RotateURL string // the rotation page; "" when the viewer may not rotate it, or it cannot be
	// Reason says why a revoked token was revoked, RevokedAt when.
	Reason    string
	RevokedAt moment
	// RotatedFrom and RotatedTo are the tokens this one replaced and was
	// replaced by; their names when the same list shows them.
	RotatedFrom, RotatedTo         string
	RotatedFromName, RotatedToName string
	// Where it may be used from, and was.
	AllowedIPs []string
	LastUsedIP string
	RecentIPs  []latchkey.AddrUse
	// ParentID is the token that made this one through the API, if any;
	// ParentName its name when the same list shows it.
	ParentID, ParentName string
	Children             int // the tokens of the same list this one made
}

func newTokenRow(t *latchkey.Token, now time.Time, pl *place, canRevoke, canCreate bool) tokenRow {
	row := tokenRow{ID: t.ID, Name: t.Name, Scopes: t.Scopes, Created: moment{&t.CreatedAt}, Expires: moment{t.ExpiresAt}, LastUsed: moment{t.LastUsedAt}, State: "active", ParentID: t.ParentID,
		Reason: reasonText[t.RevokedReason], RevokedAt: moment{t.RevokedAt}, RotatedFrom: t.RotatedFrom, RotatedTo: t.RotatedTo,
		LastUsedIP: t.LastUsedIP, RecentIPs: t.RecentIPs}
	for _, p := range t.AllowedIPs {
		row.AllowedIPs = append(row.AllowedIPs, p.String())
	}
	switch {
	case t.Revoked:
		row.State = "revoked"
	case t.Expired(now):
		row.State = "expired"
	}
	if canRevoke && !t.Revoked {
		row.RevokeURL = pl.tokens + "/" + t.ID + "/revoke"
	}
	if canCreate && row.State == "active" && !t.Rotated() && t.Client != nil && t.Client.PersonalAccessClient {
		row.RotateURL = pl.tokens + "/" + t.ID + "/rotate"
	}
	return row
}

// reasonText says on the pages why a token was revoked.
var reasonText = map[latchkey.RevokeReason]string{
	latchkey.ReasonOwner:              "by its owner",
	latchkey.ReasonAdmin:              "by an administrator",
	latchkey.ReasonRevoked:            "by the application that held it",
	latchkey.ReasonParentRevoked:      "with the token that made it",
	latchkey.ReasonRotated:            "replaced by rotation",
	latchkey.ReasonSuperseded:         "a rotation asked again before it was used",
	latchkey.ReasonReuseDetected:      "reuse of a rotated token detected",
	latchkey.ReasonConsentWithdrawn:   "the application was withdrawn",
	latchkey.ReasonClientRevoked:      "the application was revoked",
	latchkey.ReasonAuthorizationEnded: "its authorization ended",
	latchkey.ReasonUserDisabled:       "its user was disabled",
	latchkey.ReasonUserRestored:       "its user was deleted and restored",
}

// userSummary describes a user on the pages about them.
type userSummary struct {
	ID                          int64
	Username, Name, Email, Role string
	Active                      bool
	Link                        string
}

func summarize(u *latchkey.User) userSummary {
	role := "User"
	switch {
	case u.Admin:
		role = "Administrator"
	case len(u.Permissions) > 0:
		role = "User with " + strings.Join(u.Permissions, ", ")
	}
	return userSummary{
		ID: u.ID, Username: u.Username, Name: strings.TrimSpace(u.FirstName + " " + u.LastName), Email: u.Email,
		Role: role, Active: u.Active(), Link: "/users/" + strconv.FormatInt(u.ID, 10),
	}
}

// scopeChoice is one checkbox of the token form.
type scopeChoice struct {
	Name, Description string
	Checked           bool
}

// scopeHelp says, on the token form, what a scope lets a token do.
var scopeHelp = map[string]string{
	latchkey.ScopeTokensRead:  "list and show tokens",
	latchkey.ScopeTokensWrite: "create and revoke tokens",
	latchkey.ScopeAll:         "every ability, as when none is checked",
}

// tokenForm is the form that creates a token, as filled in so far.
type tokenForm struct {
	Action        string
	Name          string
	Scopes        []scopeChoice
	Expires       string // yyyy-mm-dd, as typed
	Min, Max      string // the dates the picker offers
	DefaultExpiry time.Time
	Error         string // the summary of what was wrong
	NameErrors    []string
	ScopesErrors  []string
	ExpiresErrors []string
	IPs           string // as typed
	IPsErrors     []string
}

func (s *Server) newTokenForm(pl *place, name string, checked []string, expires string) *tokenForm {
	def, latest := s.svc.TokenLifetimes()
	f := &tokenForm{
		Action: pl.tokens, Name: name, Expires: expires, DefaultExpiry: def,
		Min: s.svc.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly), Max: latest.UTC().Format(time.DateOnly),
	}
	for _, sc := range s.svc.Scopes() {
		f.Scopes = append(f.Scopes, scopeChoice{Name: sc, Description: scopeHelp[sc], Checked: slices.Contains(checked, sc)})
	}
	return f
}

// tokensPage is the list of one user's tokens, with the form that creates
// one when the viewer may.
type tokensPage struct {
	Self   bool
	Owner  userSummary
	Tokens []tokenRow
	Total  int
	Form   *tokenForm
}

// uiTokens serves GET /tokens and GET /users/{user_id}: every personal
// token of the user, revoked and expired ones included.
func (s *Server) uiTokens(w http.ResponseWriter, r *http.Request) error {
	p, pl, err := s.signedInAt(w, r, r.URL.RequestURI(), latchkey.ReadTokens)
	if p == nil || err != nil {
		return err
	}
	if pl.self && r.PathValue("user_id") != "" {
		// One's own tokens have one address.
		http.Redirect(w, r, "/tokens", http.StatusSeeOther)
		return nil
	}
	return s.showTokens(w, r, p, pl, http.StatusOK, nil, r.URL.Query().Get("revoked"))
}

// showTokens renders pl's list with form (a fresh one when nil), and a
// note that the token revoked was revoked.
func (s *Server) showTokens(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, pl *place, status int, form *tokenForm, revoked string) error {
	ctx := r.Context()
	canRevoke, canCreate := pl.self, pl.self
	if !pl.self {
		id := strconv.FormatInt(pl.owner.ID, 10)
		canRevoke = s.allowed(r, p, latchkey.RevokeTokens, id)
		canCreate = s.allowed(r, p, latchkey.CreateTokens, id)
	}
	ts, total, err := s.svc.UserTokens(ctx, pl.owner, tokensShown)
	if err != nil {
		return err
	}
	page := tokensPage{Self: pl.self, Owner: summarize(pl.owner), Total: total}
	now := s.svc.Now()
	flash := ""
	at := make(map[string]int, len(ts))
	for i, t := range ts {
		page.Tokens = append(page.Tokens, newTokenRow(t, now, pl, canRevoke, canCreate))
		at[t.ID] = i
		if revoked != "" && t.ID == revoked && t.Revoked {
			flash = "The token “" + t.Name + "” is revoked: it authenticates nothing from now on."
		}
	}
	// Lineage within the list: a row says which token made it, and how
	// many of the rows it made.
	for i, row := range page.Tokens {
		if j, ok := at[row.ParentID]; ok && row.ParentID != "" {
			page.Tokens[i].ParentName = page.Tokens[j].Name
			page.Tokens[j].Children++
		}
		if j, ok := at[row.RotatedFrom]; ok && row.RotatedFrom != "" {
			page.Tokens[i].RotatedFromName = page.Tokens[j].Name
		}
		if j, ok := at[row.RotatedTo]; ok && row.RotatedTo != "" {
			page.Tokens[i].RotatedToName = page.Tokens[j].Name
		}
	}
	if canCreate {
		if form == nil {
			form = s.newTokenForm(pl, "", nil, "")
		}
		page.Form = form
	}
	s.render(w, r, status, "tokens", pageData{Title: pl.title(), User: p.User, Nav: pl.nav(), Flash: flash, Page: page})
	return nil
}

// allowed reports whether the service lets p do a to the tokens of the
// user with id.
func (s *Server) allowed(r *http.Request, p *latchkey.Principal, a latchkey.Action, id string) bool {
	_, err := s.svc.Owner(r.Context(), p, a, id)
	return err == nil
}

// createdPage shows a new token, the only time it is ever shown.
type createdPage struct {
	Self    bool
	Owner   userSummary
	Name    string
	Token   string
	Scopes  []string
	Expires *time.Time
	Back    string
	APIURL  string
	// Rotated: the token replaces one, which works for Grace more.
	Rotated bool
	Grace   time.Duration
}

// uiCreateToken serves POST /tokens and POST /users/{user_id}/tokens. The
// new token is shown in the answer to the POST, never put in a URL; a
// form with mistakes comes back with them beside its fields.
func (s *Server) uiCreateToken(w http.ResponseWriter, r *http.Request) error {
	p, pl, err := s.signedInAt(w, r, placePath(r), latchkey.CreateTokens)
	if p == nil || err != nil {
		return err
	}
	if err := s.limitCreate(w, r, p); err != nil {
		return sayOnPage(err, "Too many tokens at once", "You have created many tokens in a short time. Wait a minute and try again.")
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	req := TokenRequestFromForm(r.PostForm)
	name, scopes := *req.Name, req.Scopes
	expires := strings.TrimSpace(r.PostForm.Get("expires_at"))
	t, jwt, err := s.svc.CreateToken(r.Context(), p, pl.owner, req)
	if e := (*latchkey.Error)(nil); errors.As(err, &e) && e.Code == latchkey.EINVALID {
		form := s.newTokenForm(pl, name, scopes, expires)
		form.Error = e.Message
		form.NameErrors, form.ScopesErrors, form.ExpiresErrors = e.Fields.Get("name"), e.Fields.Get("scopes"), e.Fields.Get("expires_at")
		form.IPs, form.IPsErrors = r.PostForm.Get("allowed_ips"), e.Fields.Get("allowed_ips")
		return s.showTokens(w, r, p, pl, http.StatusUnprocessableEntity, form, "")
	}
	if err != nil {
		return err
	}
	page := createdPage{
		Self: pl.self, Owner: summarize(pl.owner), Name: t.Name, Token: jwt, Scopes: t.Scopes, Expires: t.ExpiresAt,
		Back: pl.page, APIURL: s.baseURL(r) + "/api/1.0/users/" + strconv.FormatInt(pl.owner.ID, 10) + "/tokens",
	}
	s.render(w, r, http.StatusCreated, "token_created", pageData{Title: "Token created", User: p.User, Nav: pl.nav(), Page: page})
	return nil
}

// msgExpiresDay says, on the pages, what form of date the expiry wants.
const msgExpiresDay = "Use a date as YYYY-MM-DD, e.g. 2027-01-31."

// TokenRequestFromForm reads the create form of the pages: name, any
// number of scopes, and an optional expiry date (YYYY-MM-DD; the token
// stops working as that day begins, in UTC). The service checks the rest,
// as it does the API's JSON.
func TokenRequestFromForm(f url.Values) service.TokenRequest {
	name := f.Get("name")
	req := service.TokenRequest{Name: &name, Scopes: f["scopes"]}
	if expires := strings.TrimSpace(f.Get("expires_at")); expires != "" {
		if d, err := time.Parse(time.DateOnly, expires); err != nil {
			req.Invalid.Add("expires_at", service.MsgExpiresInvalid)
			req.Invalid.Add("expires_at", msgExpiresDay)
		} else {
			req.ExpiresAt = &d
		}
	}
	if ips := strings.FieldsFunc(f.Get("allowed_ips"), func(r rune) bool { return r == ',' || unicode.IsSpace(r) }); len(ips) > 0 {
		var msg string
		if req.AllowedIPs, msg = service.ParseAllowedIPs(ips); msg != "" {
			req.Invalid.Add("allowed_ips", msg)
		}
	}
	return req
}

// placePath is the page a POST about r's place came from, to return to
// after signing in.
func placePath(r *http.Request) string {
	if id := r.PathValue("user_id"); id != "" {
		return "/users/" + url.PathEscape(id)
	}
	return "/tokens"
}

// revokePage asks before a token is revoked.
type revokePage struct {
	Self   bool
	Owner  userSummary
	Token  tokenRow
	Action string
	Back   string
	// Descendants counts the live tokens revoked with this one: those it
	// made, directly or through others, whoever owns them.
	Descendants int
}

// uiConfirmRevoke serves GET /tokens/{token_id}/revoke and its
// /users/{user_id} twin: the step that asks before revoking, which works
// without script.
func (s *Server) uiConfirmRevoke(w http.ResponseWriter, r *http.Request) error {
	p, pl, err := s.signedInAt(w, r, r.URL.RequestURI(), latchkey.RevokeTokens)
	if p == nil || err != nil {
		return err
	}
	// The page shows the token: revoking alone does not let one read it.
	if !s.allowed(r, p, latchkey.ReadTokens, strconv.FormatInt(pl.owner.ID, 10)) {
		return &latchkey.Error{Code: latchkey.EFORBIDDEN, Message: latchkey.MsgNotAuthorized}
	}
	t, err := s.svc.Token(r.Context(), pl.owner, r.PathValue("token_id"))
	if err != nil {
		return err
	}
	row := newTokenRow(t, s.svc.Now(), pl, true, false)
	page := revokePage{Self: pl.self, Owner: summarize(pl.owner), Token: row, Action: row.RevokeURL, Back: pl.page}
	if page.Action != "" {
		if page.Descendants, err = s.svc.Descendants(r.Context(), pl.owner, t.ID); err != nil {
			return err
		}
	}
	s.render(w, r, http.StatusOK, "token_revoke", pageData{Title: "Revoke " + t.Name, User: p.User, Nav: pl.nav(), Page: page})
	return nil
}

// uiRevokeToken serves POST /tokens/{token_id}/revoke and its
// /users/{user_id} twin, then goes back to the list, which says so.
func (s *Server) uiRevokeToken(w http.ResponseWriter, r *http.Request) error {
	p, pl, err := s.signedInAt(w, r, r.URL.RequestURI(), latchkey.RevokeTokens)
	if p == nil || err != nil {
		return err
	}
	id := r.PathValue("token_id")
	if _, err := s.svc.RevokeToken(r.Context(), p, pl.owner, id); err != nil {
		return err
	}
	http.Redirect(w, r, pl.page+"?"+url.Values{"revoked": {id}}.Encode(), http.StatusSeeOther)
	return nil
}

// rotatePage asks before a token is rotated, and for how long the old
// one keeps working.
type rotatePage struct {
	Self   bool
	Owner  userSummary
	Token  tokenRow
	Action string
	Back   string
	Graces []graceChoice
}

// graceChoice is one grace period the rotation page offers.
type graceChoice struct {
	Seconds int64
	Label   string
}

// graceChoices are the grace periods the pages offer; the API takes any
// number of seconds up to a week.
var graceChoices = []graceChoice{
	{0, "None: revoke it now"}, {3600, "1 hour"}, {86400, "1 day"}, {604800, "1 week"},
}

// uiConfirmRotate serves GET /tokens/{token_id}/rotate and its
// /users/{user_id} twin: the step that asks before rotating.
func (s *Server) uiConfirmRotate(w http.ResponseWriter, r *http.Request) error {
	p, pl, err := s.signedInAt(w, r, r.URL.RequestURI(), latchkey.CreateTokens)
	if p == nil || err != nil {
		return err
	}
	t, err := s.svc.Token(r.Context(), pl.owner, r.PathValue("token_id"))
	if err != nil {
		return err
	}
	row := newTokenRow(t, s.svc.Now(), pl, false, true)
	page := rotatePage{Self: pl.self, Owner: summarize(pl.owner), Token: row, Action: row.RotateURL, Back: pl.page, Graces: graceChoices}
	s.render(w, r, http.StatusOK, "token_rotate", pageData{Title: "Rotate " + t.Name, User: p.User, Nav: pl.nav(), Page: page})
	return nil
}

// uiRotateToken serves POST /tokens/{token_id}/rotate and its
// /users/{user_id} twin: the new token is shown in the answer, as a new
// one is.
func (s *Server) uiRotateToken(w http.ResponseWriter, r *http.Request) error {
	p, pl, err := s.signedInAt(w, r, r.URL.RequestURI(), latchkey.CreateTokens)
	if p == nil || err != nil {
		return err
	}
	if err := s.limitCreate(w, r, p); err != nil {
		return sayOnPage(err, "Too many tokens at once", "You have created many tokens in a short time. Wait a minute and try again.")
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	var req service.RotateRequest
	grace := r.PostForm.Get("grace_seconds")
	if i := slices.IndexFunc(graceChoices, func(g graceChoice) bool { return strconv.FormatInt(g.Seconds, 10) == grace }); i >= 0 {
		req.Grace = time.Duration(graceChoices[i].Seconds) * time.Second
	} else if grace != "" {
		req.Invalid.Add("grace_seconds", service.MsgGraceInvalid)
	}
	t, jwt, err := s.svc.RotateToken(r.Context(), p, pl.owner, r.PathValue("token_id"), req)
	if err != nil {
		return err
	}
	page := createdPage{
		Self: pl.self, Owner: summarize(pl.owner), Name: t.Name, Token: jwt, Scopes: t.Scopes, Expires: t.ExpiresAt,
		Back: pl.page, APIURL: s.baseURL(r) + "/api/1.0/users/" + strconv.FormatInt(pl.owner.ID, 10) + "/tokens",
		Rotated: true, Grace: req.Grace,
	}
	s.render(w, r, http.StatusCreated, "token_created", pageData{Title: "Token rotated", User: p.User, Nav: pl.nav(), Page: page})
	return nil
}

// appRow is an application the person approved.
type appRow struct {
	ClientID int64
	Name     string
	// Host is where the application's metadata document is, for an
	// application identified by one: its name is unverified.
	Host     string
	Scopes   []scopeLine
	Approved time.Time
}

// uiApplications serves GET /applications: the OAuth applications the
// person has approved.
func (s *Server) uiApplications(w http.ResponseWriter, r *http.Request) error {
	p := s.signedIn(w, r, r.URL.RequestURI())
	if p == nil {
		return nil
	}
	ctx := r.Context()
	cs, err := s.svc.Consents(ctx, p.User.ID)
	if err != nil {
		return err
	}
	var rows []appRow
	for _, c := range cs {
		name, host := "Application "+strconv.FormatInt(c.ClientID, 10), ""
		if c.Client != nil {
			name = c.Client.Name
			if c.Client.MetadataURL != "" {
				host = urlHost(c.Client.MetadataURL)
			}
		}
		rows = append(rows, appRow{ClientID: c.ClientID, Name: name, Host: host, Approved: c.UpdatedAt, Scopes: scopeLines(c.Scopes)})
	}
	// The address says which application was withdrawn, but anyone can
	// write such an address: the message names no application.
	flash := ""
	if id, err := strconv.ParseInt(r.URL.Query().Get("revoked"), 10, 64); err == nil && id > 0 && !slices.ContainsFunc(rows, func(a appRow) bool { return a.ClientID == id }) {
		flash = "The application no longer has access: its tokens stop working now, and it must ask you again."
	}
	s.render(w, r, http.StatusOK, "applications", pageData{Title: "Authorized applications", User: p.User, Nav: "applications", Flash: flash, Page: rows})
	return nil
}

// uiRevokeApplication serves POST /applications/{client_id}/revoke: the
// application's access ends, and every token it holds for the person.
func (s *Server) uiRevokeApplication(w http.ResponseWriter, r *http.Request) error {
	p := s.signedIn(w, r, "/applications")
	if p == nil {
		return nil
	}
	id, err := strconv.ParseInt(r.PathValue("client_id"), 10, 64)
	if err != nil || id <= 0 {
		return &latchkey.Error{Code: latchkey.ENOTFOUND}
	}
	if err := s.svc.RevokeConsent(r.Context(), p, id); err != nil {
		return err
	}
	http.Redirect(w, r, "/applications?revoked="+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

// usersShown is the most users a search lists.
const usersShown = 50

type usersPage struct {
	Query string
	Users []userSummary
	More  bool
}

// uiUsers serves GET /users: a search for users, for holders of view-users
// and administrators.
func (s *Server) uiUsers(w http.ResponseWriter, r *http.Request) error {
	p := s.signedIn(w, r, r.URL.RequestURI())
	if p == nil {
		return nil
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	us, more, err := s.svc.SearchUsers(r.Context(), p, q, usersShown)
	if err != nil {
		return err
	}
	page := usersPage{Query: q, More: more}
	for _, u := range us {
		page.Users = append(page.Users, summarize(u))
	}
	s.render(w, r, http.StatusOK, "users", pageData{Title: "Users", User: p.User, Nav: "users", Page: page})
	return nil
}
