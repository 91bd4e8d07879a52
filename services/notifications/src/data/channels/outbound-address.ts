import { BlockList, isIP } from "node:net";
import { parseNetworks } from "@tollgate/config";

/**
 * Addresses a webhook must not reach: this host, private networks, link-local
 * (cloud metadata at 169.254.169.254), shared, reserved and multicast ranges,
 * and the IPv6 ranges that embed an IPv4 address a translator or tunnel would
 * reach in its stead (IPv4-mapped ones are unmapped and checked as IPv4).
 */
const INWARD: [string, number, "ipv4" | "ipv6"][] = [
  ["0.0.0.0", 8, "ipv4"],
  ["10.0.0.0", 8, "ipv4"],
  ["100.64.0.0", 10, "ipv4"],
  ["127.0.0.0", 8, "ipv4"],
  ["169.254.0.0", 16, "ipv4"],
  ["172.16.0.0", 12, "ipv4"],
  ["192.0.0.0", 24, "ipv4"],
  ["192.168.0.0", 16, "ipv4"],
  ["198.18.0.0", 15, "ipv4"],
  ["224.0.0.0", 3, "ipv4"], // multicast, reserved and broadcast
  ["::", 96, "ipv6"], // unspecified (::), loopback (::1) and IPv4-compatible (::a.b.c.d, which embeds any IPv4 address)
  ["64:ff9b::", 96, "ipv6"], // NAT64: a gateway turns 64:ff9b::a.b.c.d into a.b.c.d, 127.0.0.1 and 10/8 included
  ["64:ff9b:1::", 48, "ipv6"], // NAT64 for local use
  ["100::", 64, "ipv6"], // discard-only
  ["2001::", 32, "ipv6"], // Teredo: tunnels to an IPv4 address, as 6to4 does
  ["2002::", 16, "ipv6"], // 6to4: 2002:a.b.c.d::/48 reaches a.b.c.d
  ["fc00::", 7, "ipv6"],
  ["fe80::", 10, "ipv6"],
  ["ff00::", 8, "ipv6"],
];

/** `a.b.c.d` for an IPv4-mapped IPv6 address (`::ffff:7f00:1`, `::ffff:127.0.0.1`), else the address as given. */
function unmapped(address: string): string {
  const mapped = /^::ffff:(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(address);
  if (!mapped) return address;
  if (mapped[1]) return mapped[1];
  const high = parseInt(mapped[2]!, 16);
  const low = parseInt(mapped[3]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
}

/** Which addresses outbound webhooks may connect to: anything but the inward ranges, except the allowed networks. */
export class OutboundAddressPolicy {
  private readonly inward = new BlockList();
  private readonly allowed = new BlockList();

  constructor(allowedNetworks: string[] = []) {
    for (const [address, prefix, type] of INWARD) this.inward.addSubnet(address, prefix, type);
    for (const [address, prefix, type] of parseNetworks(allowedNetworks.join(","))) this.allowed.addSubnet(address, prefix, type);
  }

  permits(address: string): boolean {
    const plain = unmapped(address);
    const type = isIP(plain) === 6 ? "ipv6" : "ipv4";
    return this.allowed.check(plain, type) || !this.inward.check(plain, type);
  }

  /** Why a URL whose host is an address literal is refused (undefined: allowed, or a name, checked when resolved). */
  refusesLiteral(url: URL): string | undefined {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    return isIP(host) && !this.permits(host) ? `${host} is a loopback, private, link-local or reserved address` : undefined;
  }

  /**
   * Why a webhook URL is refused when it is saved: an inward address literal,
   * or a name of this host (`localhost`). Other names that resolve inward are
   * refused when the connection is made.
   */
  refusesHost(url: URL): string | undefined {
    // A fully qualified name may end in a dot (`localhost.` is localhost).
    const host = url.hostname.toLowerCase().replace(/\.+$/, "");
    if ((host === "localhost" || host.endsWith(".localhost")) && !this.permits("127.0.0.1")) return `${host} is this host`;
    return this.refusesLiteral(url);
  }
}
