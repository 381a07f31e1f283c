# TAPPaaS tappaas-cicd flake — lab rendition of src/foundation/tappaas-cicd/flake.nix.
# The lab's nixos-rebuild reads the "# lab:" lines below (one per
# nixosConfiguration); the Nix text is kept for humans.
# lab: config=tappaas-cicd hostname=tappaas-cicd passwordAuth=no permitRootLogin=no pinHosts=yes hardware=impure wheelNoPasswd=yes
{
  description = "TAPPaaS CICD mothership";
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";
  outputs = { self, nixpkgs, ... }: {
    nixosConfigurations.tappaas-cicd = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ /etc/nixos/hardware-configuration.nix ./tappaas-cicd.nix ];
    };
  };
}
