package pve

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Certs holds the PEM material of one node (persisted with the model).
type Certs struct {
	CAPEM      string `json:"ca_pem"`       // /etc/pve/pve-root-ca.pem
	CAKeyPEM   string `json:"ca_key_pem"`   // /etc/pve/priv/pve-root-ca.key
	NodePEM    string `json:"node_pem"`     // /etc/pve/local/pve-ssl.pem
	NodeKeyPEM string `json:"node_key_pem"` // /etc/pve/local/pve-ssl.key
	PBSPEM     string `json:"pbs_pem"`      // /etc/proxmox-backup/proxy.pem
	PBSKeyPEM  string `json:"pbs_key_pem"`  // /etc/proxmox-backup/proxy.key
	HostKeyPEM string `json:"host_key_pem"` // node SSH host key (ed25519, PKCS#8)
	RootKeyPEM string `json:"root_key_pem"` // /root/.ssh/id_ed25519 of the node
	ClientPEM  string `json:"client_pem"`   // a key already in root's authorized_keys (lab only)
}

// Fingerprint returns the SHA-256 fingerprint of a DER certificate as PVE
// prints it: upper-case hex pairs joined by colons.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// PEMFingerprint is Fingerprint of the first certificate in a PEM blob ("" if none).
func PEMFingerprint(p string) string {
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return ""
	}
	return Fingerprint(b.Bytes)
}

func newKey() (*ecdsa.PrivateKey, string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, "", err
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	return n
}

// genNodeCerts creates the cluster CA and the node certificate (signed by
// it, SANs = hostname, localhost and the node IPs), as pvecm updatecerts does.
func genNodeCerts(c *Certs, hostname string, ips []string) error {
	var caKey *ecdsa.PrivateKey
	var caCert *x509.Certificate
	if c.CAPEM == "" {
		k, kp, err := newKey()
		if err != nil {
			return err
		}
		tpl := &x509.Certificate{
			SerialNumber:          serial(),
			Subject:               pkix.Name{CommonName: "Proxmox Virtual Environment", OrganizationalUnit: []string{"lab-" + hostname}, Organization: []string{"PVE Cluster Manager CA"}},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().AddDate(10, 0, 0),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
		if err != nil {
			return err
		}
		c.CAPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		c.CAKeyPEM = kp
	}
	ca, err := tls.X509KeyPair([]byte(c.CAPEM), []byte(c.CAKeyPEM))
	if err != nil {
		return fmt.Errorf("lab ca: %w", err)
	}
	caKey = ca.PrivateKey.(*ecdsa.PrivateKey)
	caCert, err = x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		return err
	}
	k, kp, err := newKey()
	if err != nil {
		return err
	}
	tpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hostname + ".mgmt.internal", Organization: []string{"PVE Cluster Node"}, OrganizationalUnit: []string{"PVE Cluster Node"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{hostname, hostname + ".mgmt.internal", "localhost"},
	}
	for _, ip := range append(ips, "127.0.0.1") {
		if p := net.ParseIP(ip); p != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, p)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, caCert, &k.PublicKey, caKey)
	if err != nil {
		return err
	}
	c.NodePEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	c.NodeKeyPEM = kp
	return nil
}

// genSelfSigned makes a self-signed server certificate (PBS's proxy.pem).
func genSelfSigned(cn string, dns []string, ips []string) (certPEM, keyPEM string, err error) {
	k, kp, err := newKey()
	if err != nil {
		return "", "", err
	}
	tpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Proxmox Backup Server"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              dns,
	}
	for _, ip := range append(ips, "127.0.0.1") {
		if p := net.ParseIP(ip); p != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, p)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), kp, nil
}

func genEd25519PEM() (string, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	b, err := ssh.MarshalPrivateKey(k, "")
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(b)), nil
}

// ParseSigner parses an OpenSSH private key PEM.
func ParseSigner(p string) (ssh.Signer, error) { return ssh.ParsePrivateKey([]byte(p)) }

// AuthorizedKey renders a signer's public key in authorized_keys form.
func AuthorizedKey(s ssh.Signer, comment string) string {
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
	if comment != "" {
		line += " " + comment
	}
	return line
}

// certInfo describes one certificate as GET /nodes/{n}/certificates/info does.
func certInfo(filename, p string) map[string]any {
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return nil
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil
	}
	var san []string
	san = append(san, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		san = append(san, "IP Address:"+ip.String())
	}
	return map[string]any{
		"filename":        filename,
		"fingerprint":     Fingerprint(b.Bytes),
		"subject":         "/" + strings.ReplaceAll(c.Subject.String(), ",", "/"),
		"issuer":          "/" + strings.ReplaceAll(c.Issuer.String(), ",", "/"),
		"notbefore":       c.NotBefore.Unix(),
		"notafter":        c.NotAfter.Unix(),
		"san":             san,
		"public-key-type": "id-ecPublicKey",
		"public-key-bits": 256,
		"pem":             p,
	}
}

// GenHostKey makes an ed25519 SSH host key (OpenSSH PEM).
func GenHostKey() (string, error) { return genEd25519PEM() }
