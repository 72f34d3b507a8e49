package httpapi

import (
	"net/http"
	"slices"

	"github.com/latchkey/latchkey"
)

// mailChoice is one kind of mail on the notifications page.
type mailChoice struct {
	Type        latchkey.NotificationType
	Description string
	On          bool
	Always      bool // a security notice: sent whatever is chosen
}

// mailDescriptions say what each kind of mail tells, in the page's order.
var mailDescriptions = []struct {
	t    latchkey.NotificationType
	text string
}{
	{latchkey.NoteTokenExpiring, "A token of mine expires soon (30, 7 and 1 days before, as the server is set, for a token that lived longer than that)"},
	{latchkey.NoteTokenExpired, "A token of mine has expired"},
	{latchkey.NoteTokenCreated, "A token was made for me by someone else, by a token, or at the command line"},
	{latchkey.NoteTokenRotated, "A token of mine was rotated"},
	{latchkey.NoteAppAuthorized, "I allowed an application to use my account"},
	{latchkey.NoteTokenRevoked, "Someone else, or the server, revoked a token of mine"},
	{latchkey.NoteTokenReuse, "A token of mine may have been stolen (its rotation was reused)"},
}

// uiNotifications serves GET /settings/notifications: which mail the
// person gets.
func (s *Server) uiNotifications(w http.ResponseWriter, r *http.Request) error {
	p := s.signedIn(w, r, r.URL.RequestURI())
	if p == nil {
		return nil
	}
	off, err := s.svc.MailOff(r.Context(), p)
	if err != nil {
		return err
	}
	flash := ""
	if r.URL.Query().Get("saved") == "1" {
		flash = "Saved."
	}
	s.render(w, r, http.StatusOK, "notifications", pageData{Title: "Notifications", User: p.User, Nav: "notifications", Flash: flash,
		Page: notificationsPage{Email: p.User.Email, Choices: mailChoices(off)}})
	return nil
}

// notificationsPage is what the notifications page shows.
type notificationsPage struct {
	Email   string
	Choices []mailChoice
}

// mailChoices are the page's rows, given the kinds turned off.
func mailChoices(off []latchkey.NotificationType) []mailChoice {
	out := make([]mailChoice, len(mailDescriptions))
	for i, d := range mailDescriptions {
		out[i] = mailChoice{Type: d.t, Description: d.text, Always: d.t.Security(), On: d.t.Security() || !slices.Contains(off, d.t)}
	}
	return out
}

// uiSaveNotifications serves POST /settings/notifications: the boxes
// checked are the mail wanted; every other kind is turned off.
func (s *Server) uiSaveNotifications(w http.ResponseWriter, r *http.Request) error {
	p := s.signedIn(w, r, "/settings/notifications")
	if p == nil {
		return nil
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	on := r.PostForm["mail"]
	var off []latchkey.NotificationType
	for _, d := range mailDescriptions {
		if !d.t.Security() && !slices.Contains(on, string(d.t)) {
			off = append(off, d.t)
		}
	}
	if err := s.svc.SetMailOff(r.Context(), p, off); err != nil {
		return err
	}
	http.Redirect(w, r, "/settings/notifications?saved=1", http.StatusSeeOther)
	return nil
}
