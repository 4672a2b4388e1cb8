package issuer

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/fsaccess"
	"github.com/airlock-license/airlock/internal/kv"
)

// Ledger keys (all values JSON unless noted):
//
//	signer                  the current signing setup (signerRecord)
//	vendorkey/<fingerprint> every vendor public key used, armored (rotation)
//	pk/<product key>        a product key and its entitlement (ProductKey)
//	act/<license_id>        an activation (Activation)
//	resp/<license_id>       its response, exactly as signed (binary)
//	pkact/<key>/<license_id> index: the live activations of a product key
//	pkfp/<key>/<component>=<value>/<license_id> index: their fingerprints
//	pkcount/<key>           the number of those live activations (decimal)
//	pkmove/<key>/<unix nanos>/<license_id> index: its transfers (reinstalls from
//	                        a new store, deactivations) in the last TransferPeriod
//	revoked/<license_id>    index: the revoked licences (revokedEntry: reason, end of validity)
//	req/<request digest>    the licence issued for a request (license_id)
//	revserial               the serial of the last revocation list issued
//	revdirty                set when a revocation came after that list
//	revlist                 that list, as signed (binary)
const (
	keySigner        = "signer"
	prefixVendor     = "vendorkey/"
	prefixPK         = "pk/"
	prefixAct        = "act/"
	prefixResp       = "resp/"
	prefixPKAct      = "pkact/"
	prefixPKFP       = "pkfp/"
	prefixPKCount    = "pkcount/"
	prefixPKTransfer = "pkmove/"
	prefixRevoked    = "revoked/"
	prefixReq        = "req/"
	keyRevSerial     = "revserial"
	keyRevDirty      = "revdirty"
	keyRevList       = "revlist"
	secretKeyFile    = "vendor.sec.asc"
)

// Config says where the desk is.
type Config struct {
	Dir string // the desk directory: ledger and (for a file key) the secret key
	// Now returns the clock; nil means time.Now.
	Now func() time.Time
	// LockWait bounds the wait for another process (zero: ten seconds).
	LockWait time.Duration
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Command names this process in lock notices.
	Command string
	// GPG is the gpg program for a key held by GnuPG ("" means "gpg").
	GPG string
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// Desk is an open licence desk: its ledger and its vendor key.
type Desk struct {
	cfg    Config
	db     *kv.DB
	signer format.Signer // nil until Unlock
}

// signerRecord says how the desk signs.
type signerRecord struct {
	Mode        string                `json:"mode"` // "file" or "gpg"
	Fingerprint format.KeyFingerprint `json:"fingerprint"`
	Created     time.Time             `json:"created"`
}

// OpenDesk opens the desk; create makes a missing directory (issuer init).
func OpenDesk(cfg Config, create bool) (*Desk, error) {
	return openDesk(cfg, true, func(wait time.Duration, log *slog.Logger, cmd string) (*kv.DB, error) {
		return kv.OpenLedger(cfg.Dir, create, wait, log, cmd)
	})
}

// OpenDeskReadOnly opens the desk for reading only (listings, the ledger,
// the public keys): it writes nothing, so it works while another reader
// has the desk open, and on a full disk. A method that writes fails.
func OpenDeskReadOnly(cfg Config) (*Desk, error) {
	return openDesk(cfg, false, func(wait time.Duration, log *slog.Logger, cmd string) (*kv.DB, error) {
		return kv.OpenLedgerReadOnly(cfg.Dir, wait, log, cmd)
	})
}

func openDesk(cfg Config, write bool, open func(time.Duration, *slog.Logger, string) (*kv.DB, error)) (*Desk, error) {
	wait := cfg.LockWait
	if wait == 0 {
		wait = kv.DefaultLockWait
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cmd := cfg.Command
	if cmd == "" {
		cmd = "issuer"
	}
	d, err := open(wait, log, cmd)
	if errors.Is(err, kv.ErrNoStore) {
		return nil, fmt.Errorf("%w: %s does not exist; run issuer init", ErrNoDesk, cfg.Dir)
	}
	if err != nil {
		return nil, fsaccess.Explain(cfg.Dir, write, err)
	}
	return &Desk{cfg: cfg, db: d}, nil
}

// Close releases the desk.
func (d *Desk) Close() error { return d.db.Close() }

func (d *Desk) signerRecord(txn *badger.Txn) (*signerRecord, error) {
	b, err := kv.Get(txn, keySigner)
	if err != nil || b == nil {
		return nil, err
	}
	var r signerRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: signer record: %v", ErrDamaged, err)
	}
	return &r, nil
}

// InitOptions create the vendor key.
type InitOptions struct {
	Name, Email string
	Passphrase  []byte // required for a file key
	// GPGKey, if set, is the fingerprint of a key held by GnuPG (perhaps on
	// a smartcard); the desk keeps only its public key and signs with gpg.
	GPGKey string
	// Rotate replaces an existing vendor key; the ledger and the old public
	// keys are kept (products may list several vendor keys). The current
	// key must be unlocked first (CurrentPassphrase), so that only its
	// holder can replace it.
	Rotate            bool
	CurrentPassphrase []byte
}

// Init creates or adopts the vendor key and returns its public key.
func (d *Desk) Init(opts InitOptions) (*format.PublicKey, error) {
	var rec *signerRecord
	if err := d.db.View(func(txn *badger.Txn) (err error) { rec, err = d.signerRecord(txn); return }); err != nil {
		return nil, err
	}
	if rec != nil && !opts.Rotate {
		return nil, refuse(ErrAlreadyInit, fmt.Sprintf("this desk already signs with %s; use --rotate to replace it (the ledger is kept)", rec.Fingerprint))
	}
	if rec != nil {
		if err := d.Unlock(opts.CurrentPassphrase); err != nil {
			return nil, fmt.Errorf("rotate: the current key must be unlocked first: %w", err)
		}
	}
	now := d.cfg.now()
	var pub *format.PublicKey
	var secret []byte
	mode := "file"
	if opts.GPGKey != "" {
		g, err := NewGPGSigner(d.cfg.GPG, opts.GPGKey)
		if err != nil {
			return nil, err
		}
		pub, mode = g.Public(), "gpg"
	} else {
		if len(opts.Passphrase) == 0 {
			return nil, errors.New("a passphrase is required to protect the vendor key")
		}
		k, err := format.GenerateKey(format.KeyOptions{Name: opts.Name, Email: opts.Email, Now: now})
		if err != nil {
			return nil, err
		}
		if secret, err = k.MarshalArmored(opts.Passphrase); err != nil {
			return nil, err
		}
		pub = k.Public()
	}
	keyFile := filepath.Join(d.cfg.Dir, secretKeyFile)
	var aside string // where the old file key was put, if it was
	if rec != nil && rec.Mode == "file" {
		aside = filepath.Join(d.cfg.Dir, "vendor-"+string(rec.Fingerprint)+".sec.asc")
	}
	// undo puts the key files back as the ledger names them, when the
	// ledger did not take the new key (a full disk): otherwise the desk
	// would hold a secret key the ledger does not name, and refuse to
	// sign as damaged.
	undo := func() {}
	if secret != nil {
		// Written before the ledger names it, through a rename: a crash
		// leaves either no new key or a complete one.
		tmp := filepath.Join(d.cfg.Dir, secretKeyFile+".tmp")
		if err := kv.WriteFileSynced(tmp, secret); err != nil { // never an empty key after a power loss
			os.Remove(tmp)
			return nil, err
		}
		if aside != "" {
			// The old secret key is kept beside, still encrypted, until
			// the vendor deletes it: nothing here needs it any more.
			if err := os.Rename(keyFile, aside); err != nil {
				os.Remove(tmp)
				return nil, fmt.Errorf("rotate: keep the old key: %v", err)
			}
		}
		if err := os.Rename(tmp, keyFile); err != nil {
			os.Remove(tmp)
			if aside != "" {
				os.Rename(aside, keyFile)
			}
			return nil, err
		}
		syncDir(d.cfg.Dir) // make the rename durable
		undo = func() {
			if aside != "" {
				os.Rename(aside, keyFile) // replaces the new key
			} else {
				os.Remove(keyFile)
			}
			syncDir(d.cfg.Dir)
		}
	} else if aside != "" {
		// From a file key to GnuPG: the file key is no longer used.
		if err := os.Rename(keyFile, aside); err != nil {
			return nil, fmt.Errorf("rotate: keep the old key: %v", err)
		}
		undo = func() { os.Rename(aside, keyFile); syncDir(d.cfg.Dir) }
	}
	r, _ := json.Marshal(signerRecord{Mode: mode, Fingerprint: pub.Fingerprint(), Created: now})
	err := d.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set([]byte(prefixVendor+string(pub.Fingerprint())), pub.Armor()); err != nil {
			return err
		}
		return txn.Set([]byte(keySigner), r)
	})
	if err != nil {
		undo()
		return nil, err
	}
	return pub, nil
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// Unlock makes the desk ready to sign: it decrypts the file key with
// passphrase, or checks that GnuPG holds the key. Call it once per session;
// batch signing then signs without asking again.
func (d *Desk) Unlock(passphrase []byte) error {
	var rec *signerRecord
	if err := d.db.View(func(txn *badger.Txn) (err error) { rec, err = d.signerRecord(txn); return }); err != nil {
		return err
	}
	if rec == nil {
		return refuse(ErrNotInitialised, "this desk has no vendor key; run issuer init")
	}
	if rec.Mode == "gpg" {
		g, err := NewGPGSigner(d.cfg.GPG, string(rec.Fingerprint))
		if err != nil {
			return err
		}
		// One signature now, so that a passphrase or PIN is asked for (and
		// cached by gpg-agent) before a batch, not in its middle.
		if _, err := g.SignMessage([]byte("airlock: unlock check"), d.cfg.now()); err != nil {
			return fmt.Errorf("GnuPG cannot sign with %s: %v", rec.Fingerprint, err)
		}
		d.signer = g
		return nil
	}
	b, err := os.ReadFile(filepath.Join(d.cfg.Dir, secretKeyFile))
	if err != nil {
		return fmt.Errorf("vendor key: %v", err)
	}
	if len(passphrase) == 0 {
		return errors.New("the vendor key's passphrase is required (--passphrase-file, ISSUER_PASSPHRASE_FILE, or the prompt)")
	}
	k, err := format.ParsePrivateKey(b, passphrase)
	if err != nil {
		return refuse(ErrWrongPassphrase, "wrong passphrase for the vendor key")
	}
	if k.Fingerprint() != rec.Fingerprint {
		return fmt.Errorf("%w: %s holds key %s, the ledger names %s", ErrDamaged, secretKeyFile, k.Fingerprint(), rec.Fingerprint)
	}
	d.signer = k
	return nil
}

// NeedsPassphrase reports whether Unlock needs a passphrase (a file key).
func (d *Desk) NeedsPassphrase() (bool, error) {
	var rec *signerRecord
	if err := d.db.View(func(txn *badger.Txn) (err error) { rec, err = d.signerRecord(txn); return }); err != nil {
		return false, err
	}
	return rec != nil && rec.Mode == "file", nil
}

// VendorKeys returns the current vendor public key and, with all, every
// key this desk has signed with (what products should pin during a
// rotation).
func (d *Desk) VendorKeys(all bool) ([]*format.PublicKey, error) {
	var out []*format.PublicKey
	err := d.db.View(func(txn *badger.Txn) error {
		rec, err := d.signerRecord(txn)
		if err != nil {
			return err
		}
		if rec == nil {
			return refuse(ErrNotInitialised, "this desk has no vendor key; run issuer init")
		}
		return kv.Scan(txn, prefixVendor, func(key string, val []byte) error {
			set, err := format.ParseKeySet(val)
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrDamaged, key, err)
			}
			k := set.Keys()[0]
			if all || k.Fingerprint() == rec.Fingerprint {
				out = append(out, k)
			}
			return nil
		})
	})
	return out, err
}

func (d *Desk) keySet() (*format.KeySet, error) {
	keys, err := d.VendorKeys(true)
	if err != nil {
		return nil, err
	}
	return format.NewKeySet(keys...), nil
}

func getJSON(txn *badger.Txn, key string, v any) (bool, error) {
	b, err := kv.Get(txn, key)
	if err != nil || b == nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%w: %s: %v", ErrDamaged, key, err)
	}
	return true, nil
}

func setJSON(txn *badger.Txn, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set([]byte(key), b)
}
