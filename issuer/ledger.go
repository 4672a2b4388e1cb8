package issuer

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
)

// Ledger is the desk's record: every product key sold and every licence
// issued, with what happened to it.
type Ledger struct {
	ProductKeys []ProductKey `json:"product_keys"`
	Activations []Activation `json:"activations"`
}

// Ledger reads the whole ledger.
func (d *Desk) Ledger() (*Ledger, error) {
	keys, err := d.Keys()
	if err != nil {
		return nil, err
	}
	l := &Ledger{ProductKeys: keys, Activations: []Activation{}}
	err = d.db.View(func(txn *badger.Txn) error {
		return kv.Scan(txn, prefixAct, func(key string, val []byte) error {
			var a Activation
			if err := json.Unmarshal(val, &a); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrDamaged, key, err)
			}
			if a.Binding.Components == 0 {
				// Recorded before the ledger kept the binding.
				a.Binding = a.Fingerprint.Binding()
				a.Binding.Threshold = a.Fingerprint.Threshold
			}
			l.Activations = append(l.Activations, a)
			return nil
		})
	})
	sort.Slice(l.Activations, func(i, j int) bool { return l.Activations[i].Issued.Before(l.Activations[j].Issued) })
	return l, err
}

// WriteJSON writes the ledger as indented JSON.
func (l *Ledger) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}

// csvHeader is the CSV ledger's first row: one event a row.
var csvHeader = []string{"time", "event", "product_key", "product", "version", "license_id", "licensee_name", "licensee_organization", "host_key_fingerprint", "detail", "binding"}

// BindingText describes the activation's machine binding in one line:
// "strong: 4 identifiers (1 stays with the machine), 4 must match", or
// "weak (allowed by product key): only 1 machine identifier(s) (machine-id), fewer than 3".
func (a *Activation) BindingText() string {
	if a.Binding.Components == 0 { // recorded before the ledger kept it
		a.Binding = a.Fingerprint.Binding()
		a.Binding.Threshold = a.Fingerprint.Threshold
	}
	if a.Binding.Weak {
		by := a.WeakAllowed
		if by == "" {
			by = "an earlier version of the desk"
		}
		return "weak (allowed by " + by + "): " + a.Binding.Reason
	}
	return a.Binding.String()
}

// WriteCSV writes one event a row (key sold, activation, reinstall,
// deactivation, revocation), oldest first, with times in UTC as a
// spreadsheet reads them. Cells that a spreadsheet would run as a formula
// (starting with =, +, -, @, tab or carriage return) are prefixed with '.
func (l *Ledger) WriteCSV(w io.Writer) error {
	type row struct {
		t    time.Time
		cols []string
	}
	var rows []row
	pks := map[string]ProductKey{}
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }
	for _, k := range l.ProductKeys {
		pks[k.Key] = k
		detail := fmt.Sprintf("features %s; %d clients; %d activations", strings.Join(k.Features, " "), k.Clients, k.Activations)
		if k.Expires != nil {
			detail += "; expires " + ts(*k.Expires)
		}
		binding := ""
		if k.AllowWeakBinding {
			binding = "weak binding allowed"
		}
		rows = append(rows, row{k.Created, []string{ts(k.Created), "key", k.Key, k.Product, strconv.Itoa(k.Version), "", "", "", "", detail, binding}})
	}
	for _, a := range l.Activations {
		base := func(t time.Time, event, detail string) row {
			return row{t, []string{ts(t), event, a.ProductKey, a.Product, strconv.Itoa(pks[a.ProductKey].Version), string(a.LicenseID),
				a.Licensee.Name, a.Licensee.Organization, string(a.HostKeyFingerprint), detail, a.BindingText()}}
		}
		if a.ReinstallOf != "" {
			detail := "replaces " + string(a.ReinstallOf)
			if a.Forced {
				detail += " (forced with sign --force, past the transfer limit or a full revocation list)"
			}
			if a.LeftUnrevoked {
				detail += "; the replaced licence is not on the revocation list (full), so it stays valid on a copy of the old store"
			}
			rows = append(rows, base(a.Issued, "reinstall", detail))
		} else {
			rows = append(rows, base(a.Issued, "activation", ""))
		}
		if a.Deactivated != nil {
			detail := ""
			if a.DeactivationForced {
				detail = "forced past the transfer limit"
			}
			rows = append(rows, base(*a.Deactivated, "deactivation", detail))
		}
		if a.Revoked != nil {
			rows = append(rows, base(*a.Revoked, "revocation", a.RevokeReason))
		}
		if a.RevocationDropped != nil {
			rows = append(rows, base(*a.RevocationDropped, "revocation-dropped", "left the full revocation list, the oldest licence a reinstall replaced, to make room"))
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].t.Before(rows[j].t) })
	cw := csv.NewWriter(w)
	cw.Write(csvHeader)
	for _, r := range rows {
		for i, c := range r.cols {
			r.cols[i] = cellSafe(c)
		}
		cw.Write(r.cols)
	}
	cw.Flush()
	return cw.Error()
}

func cellSafe(s string) string {
	if s == "" {
		return s
	}
	// Also where a ';' starts a cell: spreadsheets in locales whose list
	// separator is ';' split there.
	risky := strings.ContainsRune("=+-@\t\r", rune(s[0]))
	for i := 0; i+1 < len(s) && !risky; i++ {
		risky = s[i] == ';' && strings.ContainsRune("=+-@", rune(s[i+1]))
	}
	if risky {
		return "'" + s
	}
	return s
}

// Inspection describes an artifact for a person.
type Inspection struct {
	Kind      format.Kind
	Payload   format.Payload
	Signature string // one line: valid (by whom) or why not
	Valid     bool
	// History, for a request: what the ledger knows of the same host or
	// product key, and which fingerprint components changed since.
	History []string
	// Binding, for a request or a response: how firmly it binds to the
	// machine (format.Binding.String), and for a request whether this
	// desk would sign it as it is.
	Binding string
}

// Inspect decodes any artifact, checks its signature with the key it
// should have, and for a request compares it with earlier activations (the
// reinstall-dispute view).
func (d *Desk) Inspect(data []byte) (*Inspection, error) {
	now := d.cfg.now()
	u, err := format.DecodeUnverified(data)
	if err != nil {
		return nil, err
	}
	in := &Inspection{Kind: u.Kind, Payload: u.Payload}
	verdict := func(a *format.Artifact, err error) {
		if err != nil {
			in.Signature = "NOT VALID: " + err.Error()
			return
		}
		in.Valid = true
		in.Signature = fmt.Sprintf("valid: signed %s by %s", a.SignedAt.UTC().Format(time.RFC3339), a.Signer)
	}
	switch p := u.Payload.(type) {
	case *format.Request:
		a, _, err := format.VerifyRequest(data, now)
		verdict(a, err)
		b := p.Fingerprint.Binding()
		in.Binding = b.String()
		if b.Weak {
			in.Binding += " (issuer sign refuses it unless --allow-weak-binding, or its product key was sold for such hosts)"
		}
		in.History, err = d.history(p)
		if err != nil {
			return nil, err
		}
	case *format.Response, *format.Revocations:
		if r, ok := p.(*format.Response); ok {
			b := r.Fingerprint.Binding()
			b.Threshold = r.Fingerprint.Threshold
			in.Binding = b.String()
		}
		keys, err := d.keySet()
		if err != nil {
			return nil, err
		}
		verdict(format.Verify(data, format.VerifyOptions{Keys: keys, Kinds: []format.Kind{u.Kind}, Now: now}))
	case *format.Deactivation:
		err := d.db.View(func(txn *badger.Txn) error {
			act := new(Activation)
			ok, err := getJSON(txn, prefixAct+string(p.LicenseID), act)
			if err != nil || !ok {
				in.Signature = "not checked: licence " + string(p.LicenseID) + " is not in this ledger"
				return err
			}
			hk, err := (&format.Request{HostKey: act.HostKey}).PublicKey()
			if err != nil {
				return err
			}
			verdict(format.Verify(data, format.VerifyOptions{Keys: format.NewKeySet(hk), Kinds: []format.Kind{format.KindDeactivation}, Now: now}))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return in, nil
}

// history lists earlier activations of the request's product key or host
// key, with the fingerprint components that changed.
func (d *Desk) history(r *format.Request) ([]string, error) {
	hk, err := r.PublicKey()
	if err != nil {
		return nil, nil
	}
	var out []string
	err = d.db.View(func(txn *badger.Txn) error {
		return kv.Scan(txn, prefixAct, func(key string, _ []byte) error {
			a := new(Activation)
			if _, err := getJSON(txn, key, a); err != nil {
				return err
			}
			sameHost := a.HostKeyFingerprint == hk.Fingerprint()
			if !sameHost && a.ProductKey != r.ProductKey {
				return nil
			}
			m := format.Match(a.Fingerprint, r.Fingerprint)
			state := "live"
			switch {
			case a.Deactivated != nil:
				state = "deactivated " + a.Deactivated.Format("2006-01-02")
			case a.Revoked != nil:
				state = "revoked"
			case a.SupersededBy != "":
				state = "replaced by " + string(a.SupersededBy)
			}
			changed := "none"
			if len(m.Changed) > 0 {
				changed = strings.Join(m.Changed, ", ")
			}
			out = append(out, fmt.Sprintf("licence %s (%s), issued %s to %s: same host key: %v; %d of %d identifiers match (%d needed); changed: %s; binding %s",
				a.LicenseID, state, a.Issued.Format("2006-01-02"), a.Licensee.Name, sameHost, m.Matched, m.Total, m.Needed, changed, a.BindingText()))
			return nil
		})
	})
	return out, err
}
