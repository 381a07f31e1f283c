# Lab rendition of src/foundation/tappaas-cicd/tappaas-cicd.nix (bootstrap.md §1 step 13).
{ config, pkgs, ... }:
{
  networking.hostName = "tappaas-cicd";
  services.openssh.enable = true;
  services.openssh.settings.PasswordAuthentication = false;
  services.openssh.settings.PermitRootLogin = "no";
  security.sudo.wheelNeedsPassword = false;
  services.qemuGuest.enable = true;
  # DNS-independent control plane (#307)
  networking.extraHosts = ''
    10.0.0.1 firewall.mgmt.internal firewall.internal firewall
    10.0.0.10 tappaas1.mgmt.internal tappaas1
  '';
}
