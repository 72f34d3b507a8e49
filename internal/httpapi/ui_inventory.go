package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/latchkey/latchkey"
)

// The web pages' inventory: "All tokens", every user's tokens by the
// filters of GET /api/1.0/tokens, as a GET form whose fields are the API's
// parameters, so that the page's address, the API's query and the CSV
// download's are one and the same.

// inventoryShown is how many tokens a page of the inventory lists.
const inventoryShown = 50

// inventoryRow is one token of the inventory as the page shows it.
type inventoryRow struct {
	tokenRow
	OwnerID    int64
	Owner      string // username
	OwnerLink  string // the owner's tokens
	Email      string
	ClientName string
	Personal   bool
}

// inventoryChoice is one option of a select, or one checkbox.
type inventoryChoice struct {
	Value, Label string
	Chosen       bool
}

// inventoryPage is the form as filled in, the page of tokens, and where
// the other pages and the CSV are.
type inventoryPage struct {
	Values             url.Values // the form's values as given
	States, Scopes     []inventoryChoice
	NeverUsed          []inventoryChoice
	OrderBy, Direction []inventoryChoice
	Tokens             []inventoryRow
	Total, From, To    int
	Prev, Next, CSV    string
	Error              string
	Errors             map[string][]string // by field
}

// Get returns the form's value of key.
func (p *inventoryPage) Get(key string) string { return p.Values.Get(key) }

// uiInventory serves GET /inventory, "All tokens", for those who may
// read the inventory (latchkey.ReadInventory); anyone else gets the 403
// page, whatever the query.
func (s *Server) uiInventory(w http.ResponseWriter, r *http.Request) error {
	p := s.signedIn(w, r, r.URL.RequestURI())
	if p == nil {
		return nil
	}
	if err := s.svc.AuthorizeInventory(p); err != nil {
		return err
	}
	query := ParseQuery(r.URL.RawQuery)
	page := &inventoryPage{Values: query, Errors: map[string][]string{}}
	s.inventoryChoices(page)
	status := http.StatusOK
	iq, err := ParseInventoryQuery(query)
	if e := (*latchkey.Error)(nil); errors.As(err, &e) && e.Code == latchkey.EINVALID {
		status = http.StatusUnprocessableEntity
		page.Error = e.Message
		for _, f := range e.Fields {
			page.Errors[f.Field] = f.Sentences
		}
	} else if err != nil {
		return err
	} else {
		iq.PerPage = inventoryShown
		f := iq.Filter
		f.Offset, f.Limit = (iq.Page-1)*iq.PerPage, iq.PerPage
		items, total, err := s.svc.Inventory(r.Context(), p, f)
		if err != nil {
			return err
		}
		now := s.svc.Now()
		for _, it := range items {
			t := it.Token
			row := inventoryRow{
				tokenRow: newTokenRow(t, now, &place{}, false, false),
				OwnerID:  t.UserID, Owner: it.Username, Email: it.Email,
				OwnerLink: "/users/" + strconv.FormatInt(t.UserID, 10),
			}
			if t.Client != nil {
				row.ClientName, row.Personal = t.Client.Name, t.Client.PersonalAccessClient
			}
			page.Tokens = append(page.Tokens, row)
		}
		page.Total = total
		if len(items) > 0 {
			page.From, page.To = f.Offset+1, f.Offset+len(items)
		}
		link := inventoryLinker("/inventory", withoutPerPage(query), iq.Filter)
		if iq.Page > 1 {
			page.Prev = *link(iq.Page - 1)
		}
		if f.Offset+len(items) < total {
			page.Next = *link(iq.Page + 1)
		}
		// The download: the same filters, every page.
		csv := *inventoryLinker("/inventory.csv", withoutPerPage(query), iq.Filter)(1)
		page.CSV = csv
	}
	s.render(w, r, status, "inventory", pageData{Title: "All tokens", User: p.User, Nav: "inventory", Page: page})
	return nil
}

// withoutPerPage is query without per_page, which the page fixes.
func withoutPerPage(query url.Values) url.Values {
	q := url.Values{}
	for k, v := range query {
		if k != "per_page" {
			q[k] = v
		}
	}
	return q
}

// inventoryChoices fills the form's selects and checkboxes, chosen as the
// query says.
func (s *Server) inventoryChoices(page *inventoryPage) {
	states, _ := parseStates(page.Values["state"])
	for _, st := range []latchkey.TokenState{latchkey.StateActive, latchkey.StateExpired, latchkey.StateRevoked} {
		page.States = append(page.States, inventoryChoice{Value: string(st), Label: string(st), Chosen: slices.Contains(states, st)})
	}
	scope := page.Get("scope")
	page.Scopes = append(page.Scopes, inventoryChoice{Value: "", Label: "any", Chosen: scope == ""})
	for _, sc := range s.svc.Scopes() {
		label := sc
		if sc == latchkey.ScopeAll {
			label = "* (only tokens limited by no scope)"
		}
		page.Scopes = append(page.Scopes, inventoryChoice{Value: sc, Label: label, Chosen: scope == sc})
	}
	never := page.Get("never_used")
	page.NeverUsed = []inventoryChoice{
		{"", "either", never == ""},
		{"true", "never used", never == "true" || never == "1"},
		{"false", "used at least once", never == "false" || never == "0"},
	}
	order := page.Get("order_by")
	page.OrderBy = append(page.OrderBy, inventoryChoice{Value: "", Label: "created", Chosen: order == ""})
	for _, o := range latchkey.TokenOrders[1:] {
		page.OrderBy = append(page.OrderBy, inventoryChoice{Value: string(o), Label: map[latchkey.TokenOrder]string{
			latchkey.OrderName: "name", latchkey.OrderExpiresAt: "expiry", latchkey.OrderLastUsedAt: "last use",
		}[o], Chosen: order == string(o)})
	}
	dir := page.Get("order_direction")
	page.Direction = []inventoryChoice{{"", "newest or last first", dir == "" || dir == "desc"}, {"asc", "oldest or first first", dir == "asc"}}
}

// uiInventoryCSV serves GET /inventory.csv: the page's download, every
// token its filters select, as the API's CSV, for a signed-in person.
func (s *Server) uiInventoryCSV(w http.ResponseWriter, r *http.Request) error {
	p := s.signedIn(w, r, "/inventory?"+r.URL.RawQuery)
	if p == nil {
		return nil
	}
	if err := s.svc.AuthorizeInventory(p); err != nil {
		return err
	}
	iq, err := ParseInventoryQuery(ParseQuery(r.URL.RawQuery))
	if err != nil {
		return err
	}
	return s.streamInventory(w, r, p, iq.Filter)
}
