package main

// `kube pki`: makes the certificates of one test cluster with Go's own crypto, from a
// JSON request on stdin. Which certificates a cluster needs (names, subjects, addresses)
// is the harness's choice (test-cluster/pki.ts); this only makes what it is asked for:
//
//	{"dir": "/tmp/x/pki",
//	 "cas":      [{"name": "ca", "commonName": "kubernetes"}],
//	 "certs":    [{"name": "apiserver", "ca": "ca", "commonName": "kube-apiserver",
//	               "usage": "server", "dnsNames": ["localhost"], "ipAddresses": ["127.0.0.1"]},
//	              {"name": "admin", "ca": "ca", "commonName": "kubernetes-admin",
//	               "organizations": ["kubeadm:cluster-admins"], "usage": "client"}],
//	 "keyPairs": ["sa"]}
//
// writes NAME.crt and NAME.key (PKCS #8) for each CA and certificate, and NAME.key and
// NAME.pub (PKIX) for each bare key pair. Keys are ECDSA P-256, private keys mode 0600.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

type caSpec struct {
	Name       string `json:"name"`
	CommonName string `json:"commonName"`
}

type certSpec struct {
	Name          string   `json:"name"`
	CA            string   `json:"ca"`
	CommonName    string   `json:"commonName"`
	Organizations []string `json:"organizations"`
	// "server" or "client".
	Usage       string   `json:"usage"`
	DNSNames    []string `json:"dnsNames"`
	IPAddresses []string `json:"ipAddresses"`
}

type pkiRequest struct {
	Dir      string     `json:"dir"`
	CAs      []caSpec   `json:"cas"`
	Certs    []certSpec `json:"certs"`
	KeyPairs []string   `json:"keyPairs"`
}

// Validity: long enough for a cluster a user keeps running while trying the runbooks.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 365 * 24 * time.Hour
	// Tolerates a clock that is a little behind the one that signed.
	backdate = time.Hour
)

type issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func runPKI(stdin io.Reader, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("takes no arguments, only a JSON request on stdin (got %q)", args)
	}
	var req pkiRequest
	decoder := json.NewDecoder(stdin)
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&req); err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	if req.Dir == "" {
		return errors.New("the request has no dir")
	}
	if err := os.MkdirAll(req.Dir, 0o700); err != nil {
		return err
	}
	now := time.Now()
	cas := map[string]issuer{}
	for _, spec := range req.CAs {
		ca, err := makeCA(req.Dir, spec, now)
		if err != nil {
			return fmt.Errorf("CA %q: %w", spec.Name, err)
		}
		cas[spec.Name] = ca
	}
	for _, spec := range req.Certs {
		ca, ok := cas[spec.CA]
		if !ok {
			return fmt.Errorf("certificate %q: no CA named %q in the request", spec.Name, spec.CA)
		}
		if err := makeCert(req.Dir, spec, ca, now); err != nil {
			return fmt.Errorf("certificate %q: %w", spec.Name, err)
		}
	}
	for _, name := range req.KeyPairs {
		if err := makeKeyPair(req.Dir, name); err != nil {
			return fmt.Errorf("key pair %q: %w", name, err)
		}
	}
	return nil
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func makeCA(dir string, spec caSpec, now time.Time) (issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return issuer{}, err
	}
	serial, err := serialNumber()
	if err != nil {
		return issuer{}, err
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.CommonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return issuer{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return issuer{}, err
	}
	if err := writeCertAndKey(dir, spec.Name, der, key); err != nil {
		return issuer{}, err
	}
	return issuer{cert: cert, key: key}, nil
}

func makeCert(dir string, spec certSpec, ca issuer, now time.Time) error {
	var usage []x509.ExtKeyUsage
	switch spec.Usage {
	case "server":
		usage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case "client":
		usage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default:
		return fmt.Errorf("usage %q: use server or client", spec.Usage)
	}
	ips := make([]net.IP, 0, len(spec.IPAddresses))
	for _, text := range spec.IPAddresses {
		ip := net.ParseIP(text)
		if ip == nil {
			return fmt.Errorf("ipAddresses: %q is not an IP address", text)
		}
		ips = append(ips, ip)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := serialNumber()
	if err != nil {
		return err
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.CommonName, Organization: spec.Organizations},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
		DNSNames:     spec.DNSNames,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, key.Public(), ca.key)
	if err != nil {
		return err
	}
	return writeCertAndKey(dir, spec.Name, der, key)
}

func makeKeyPair(dir, name string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	if err := writeKey(dir, name, key); err != nil {
		return err
	}
	public, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, name+".pub"), "PUBLIC KEY", public, 0o644)
}

func writeCertAndKey(dir, name string, der []byte, key *ecdsa.PrivateKey) error {
	if err := writeKey(dir, name, key); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, name+".crt"), "CERTIFICATE", der, 0o644)
}

func writeKey(dir, name string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, name+".key"), "PRIVATE KEY", der, 0o600)
}

func writePEM(path, blockType string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), mode)
}
