package issuer

import (
	"crypto/rand"
	"fmt"
	"io"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
)

// populate writes n synthetic activations (spread over n/100 product
// keys, each with its indexes) straight into the ledger, as years of sales
// would leave it, in large transactions.
func populate(b *testing.B, d *Desk, n int, now time.Time) {
	b.Helper()
	h := newHost(b, "template", "template", "template")
	key := oneKey(b, d, KeyOptions{Activations: 1})
	tmpl, err := d.Sign(h.request(b, key, "9.1.0", now))
	if err != nil {
		b.Fatal(err)
	}
	a, _ := format.DecodeUnverified(tmpl.Response)
	resp := a.Payload.(*format.Response)
	const perTxn = 40
	for done := 0; done < n; done += perTxn {
		err := d.db.Update(func(txn *badger.Txn) error {
			for i := done; i < min(done+perTxn, n); i++ {
				pk := fmt.Sprintf("SCALE-%05d", i/100)
				if i%100 == 0 {
					if err := setJSON(txn, prefixPK+pk, ProductKey{Key: pk, Product: "astera", Version: 9, Clients: 1, Activations: 100, Created: now}); err != nil {
						return err
					}
				}
				id, _ := format.NewID(rand.Reader)
				fp := format.Fingerprint{Components: map[string]string{"machine-id": format.HashComponent("astera", string(id))}, Threshold: 1}
				act := &Activation{LicenseID: id, ProductKey: pk, Product: "astera", RequestID: resp.RequestID, Licensee: resp.Licensee,
					HostKeyFingerprint: resp.HostKeyFingerprint, Fingerprint: fp, Origin: fp, Issued: now}
				if err := setJSON(txn, prefixAct+string(id), act); err != nil {
					return err
				}
				if err := txn.Set([]byte(prefixResp+string(id)), a.Binary); err != nil {
					return err
				}
				if err := setJSON(txn, prefixPKAct+pk+"/"+string(id), liveEntry{LicenseID: id, Origin: fp, Licensee: act.Licensee, Issued: now}); err != nil {
					return err
				}
				if err := addLive(txn, pk, 1); err != nil {
					return err
				}
				for name, v := range fp.Components {
					if err := txn.Set([]byte(componentKey(pk, name, v, id)), nil); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignScale signs with an empty ledger and with 100,000
// activations in it (target: within 2x).
func BenchmarkSignScale(b *testing.B) {
	for _, n := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("ledger=%d", n), func(b *testing.B) {
			d, c := newDesk(b)
			populate(b, d, n, c.Now())
			key := oneKey(b, d, KeyOptions{Activations: 1_000_000})
			reqs := make([][]byte, 0, 256)
			for i := 0; i < 256; i++ {
				id := fmt.Sprint("scale-host-", i)
				reqs = append(reqs, newHost(b, id, id+"m", id+"d").request(b, key, "9.1.0", c.Now()))
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if i >= len(reqs) {
					b.StopTimer()
					id := fmt.Sprint("scale-extra-", i)
					reqs = append(reqs, newHost(b, id, id+"m", id+"d").request(b, key, "9.1.0", c.Now()))
					b.StartTimer()
				}
				if _, err := d.Sign(reqs[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLedgerExport writes the CSV ledger of 100,000 activations.
func BenchmarkLedgerExport(b *testing.B) {
	d, c := newDesk(b)
	populate(b, d, 100_000, c.Now())
	b.ResetTimer()
	for b.Loop() {
		l, err := d.Ledger()
		if err != nil {
			b.Fatal(err)
		}
		if err := l.WriteCSV(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
