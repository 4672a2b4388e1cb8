package issuer

import (
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/kv"
)

// ProductKey is a sold product key and what it entitles to.
type ProductKey struct {
	Key         string     `json:"product_key"`
	Product     string     `json:"product"`
	Version     int        `json:"version"` // the major version it activates
	Features    []string   `json:"features"`
	Clients     int        `json:"clients"`
	Activations int        `json:"activations"`       // hosts it may activate at once
	Expires     *time.Time `json:"expires,omitempty"` // licences end then; no signing after it
	Created     time.Time  `json:"created"`
	// Revoked stops all further signing with the key (a refund, a leak).
	Revoked      *time.Time `json:"revoked,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
	// AllowWeakBinding: the key was sold for hosts that cannot be bound
	// firmly (containers): it signs their weak requests (see SignOptions).
	AllowWeakBinding bool `json:"allow_weak_binding,omitempty"`
	// Transfers is how many times the key's licences may move per
	// TransferPeriod: reinstalls from a new store (a new host key on the
	// same machine) and deactivations that free an activation for another
	// machine. 0 means DefaultTransfers, -1 none; past it, --force.
	Transfers int `json:"transfers,omitempty"`
	// Used is the number of live activations, and RecentTransfers the
	// reinstalls from a new store in the last TransferPeriod (filled in by
	// listings).
	Used            int `json:"used"`
	RecentTransfers int `json:"recent_transfers"`
}

// TransferLimit returns how many reinstalls from a new store the key
// allows per TransferPeriod.
func (pk *ProductKey) TransferLimit() int { return pk.transferLimit() }

// KeyOptions describe a sale.
type KeyOptions struct {
	Product     string
	Version     int
	Features    []string
	Clients     int
	Activations int // hosts at once, 1 or more
	Expires     *time.Time
	Count       int // keys to create, 1 to MaxKeysPerCall
	// AllowWeakBinding sells the keys for hosts that cannot be bound
	// firmly (containers): see ProductKey.AllowWeakBinding.
	AllowWeakBinding bool
	// Transfers: see ProductKey.Transfers (0: DefaultTransfers, -1 none).
	Transfers int
}

// MaxKeysPerCall bounds one keys create.
const MaxKeysPerCall = 10000

// CreateKeys records Count new product keys with the entitlement and
// returns them, in transactions of keysPerTxn keys. On an error it returns
// the keys of the transactions committed before it, which the ledger
// holds (sold, if the caller hands them out).
func (d *Desk) CreateKeys(o KeyOptions) ([]ProductKey, error) {
	switch {
	case !format.ValidProduct(o.Product):
		return nil, fmt.Errorf("--product %q: use 1-64 of a-z, 0-9, '.', '_', '-'", o.Product)
	case o.Version < 0 || o.Version > format.MaxMajorVersion:
		return nil, fmt.Errorf("--version %d is out of range", o.Version)
	case len(o.Features) > format.MaxFeatures:
		return nil, fmt.Errorf("at most %d features", format.MaxFeatures)
	case o.Clients < 1 || o.Clients > format.MaxClients:
		return nil, fmt.Errorf("--clients must be 1 to %d", format.MaxClients)
	case o.Activations < 1 || o.Activations > 1_000_000:
		return nil, fmt.Errorf("--activations must be 1 or more")
	case o.Transfers < -1 || o.Transfers > MaxTransfers:
		return nil, fmt.Errorf("--transfers must be 0 to %d", MaxTransfers)
	case o.Count < 1 || o.Count > MaxKeysPerCall:
		return nil, fmt.Errorf("--count must be 1 to %d", MaxKeysPerCall)
	case o.Expires != nil && !o.Expires.After(d.cfg.now()):
		return nil, fmt.Errorf("--expires %s is in the past", o.Expires.Format(time.RFC3339))
	}
	seen := map[string]bool{}
	for _, f := range o.Features {
		if !format.ValidFeature(f) || seen[f] {
			return nil, fmt.Errorf("--features: %q is not a feature name, or appears twice", f)
		}
		seen[f] = true
	}
	now := d.cfg.now()
	var out []ProductKey
	// In chunks: a ledger transaction holds about 2 MiB. What a failed
	// chunk made is not returned: only the keys committed are.
	for len(out) < o.Count {
		target := min(len(out)+keysPerTxn, o.Count)
		var chunk []ProductKey
		err := d.db.Update(func(txn *badger.Txn) error {
			for len(out)+len(chunk) < target {
				k, err := format.NewProductKey(rand.Reader)
				if err != nil {
					return err
				}
				if b, err := kv.Get(txn, prefixPK+k.String()); err != nil {
					return err
				} else if b != nil {
					continue // a 100-bit collision: draw again
				}
				pk := ProductKey{Key: k.String(), Product: o.Product, Version: o.Version, Features: sortedCopy(o.Features),
					Clients: o.Clients, Activations: o.Activations, Expires: o.Expires, Created: now, AllowWeakBinding: o.AllowWeakBinding, Transfers: o.Transfers}
				if err := setJSON(txn, prefixPK+pk.Key, pk); err != nil {
					return err
				}
				chunk = append(chunk, pk)
			}
			return nil
		})
		if err != nil {
			return out, err
		}
		out = append(out, chunk...)
	}
	return out, nil
}

// keysPerTxn bounds the product keys created in one transaction.
const keysPerTxn = 2000

// RevokeKey stops all further signing with a product key. Licences already
// issued stay valid until revoked one by one.
func (d *Desk) RevokeKey(key, reason string) error {
	k, err := format.ParseProductKey(key)
	if err != nil {
		return err
	}
	return d.db.Update(func(txn *badger.Txn) error {
		pk := new(ProductKey)
		if ok, err := getJSON(txn, prefixPK+k.String(), pk); err != nil {
			return err
		} else if !ok {
			return refuse(ErrUnknownProductKey, fmt.Sprintf("product key %s was never sold by this desk", k))
		}
		if pk.Revoked != nil {
			return nil
		}
		t := d.cfg.now()
		pk.Revoked, pk.RevokeReason = &t, reason
		return setJSON(txn, prefixPK+pk.Key, pk)
	})
}

// Keys lists every product key with its activations in use.
func (d *Desk) Keys() ([]ProductKey, error) {
	var out []ProductKey
	err := d.db.View(func(txn *badger.Txn) error {
		return kv.Scan(txn, prefixPK, func(key string, val []byte) error {
			var pk ProductKey
			if _, err := getJSON(txn, key, &pk); err != nil {
				return err
			}
			used, err := liveCount(txn, pk.Key)
			if err != nil {
				return err
			}
			pk.Used = used
			if pk.RecentTransfers, err = recentTransfers(txn, pk.Key, d.cfg.now(), false); err != nil {
				return err
			}
			out = append(out, pk)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		return out[i].Created.Before(out[j].Created) || out[i].Created.Equal(out[j].Created) && out[i].Key < out[j].Key
	})
	return out, err
}

func sortedCopy(s []string) []string {
	c := append([]string{}, s...)
	sort.Strings(c)
	return c
}

// ParseFeatures splits "a,b, c" into names.
func ParseFeatures(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
