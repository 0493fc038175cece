#!/bin/sh
# Mosquitto's entry point in compose.yml (the iegomez/mosquitto-go-auth image ships the openssl CLI).
#  1. TLS certificate for devices (listener 8883): server.crt/server.key from the mqtt-tls volume
#     (put your own there, chain allowed), else a self-signed one generated into it once and kept.
#  2. Copies them where only the mosquitto user reads them: Mosquitto drops root before it loads
#     certificates, and a key mounted read-only or owned by root would be unreadable to it.
#  3. Prints the certificate's SHA-256 fingerprint (what devices pin), writes the hook secret into a
#     copy of the configuration (Mosquitto reads no environment), and starts Mosquitto.
# Paths can be moved for a trial run outside the container (MQTT_TLS_DIR, MQTT_TLS_RUN_DIR, …).
set -eu

TLS_DIR="${MQTT_TLS_DIR:-/mosquitto/certs}"
RUN_DIR="${MQTT_TLS_RUN_DIR:-/tmp/mqtt-tls}"
TEMPLATE="${MOSQUITTO_CONF_TEMPLATE:-/etc/mosquitto/mosquitto.conf.template}"
CONF="${MOSQUITTO_CONF:-/tmp/mosquitto.conf}"
RUN_AS="${MOSQUITTO_USER:-mosquitto}"
MOSQUITTO="${MOSQUITTO_BIN:-/usr/sbin/mosquitto}"

if [ ! -s "$TLS_DIR/server.crt" ] || [ ! -s "$TLS_DIR/server.key" ]; then
  # Names devices may use beside the compose service name; MQTT_TLS_HOSTNAMES adds more
  # (comma-separated host names or IP addresses, e.g. "broker.example.org,192.0.2.10").
  san="DNS:localhost,DNS:mosquitto,IP:127.0.0.1"
  for name in $(printf '%s' "${MQTT_TLS_HOSTNAMES:-}" | tr ',' ' '); do
    case "$name" in
      *:*) san="$san,IP:$name" ;;        # IPv6
      *[!0-9.]*) san="$san,DNS:$name" ;; # a host name
      *) san="$san,IP:$name" ;;          # IPv4
    esac
  done
  mkdir -p "$TLS_DIR"
  umask 077
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -nodes -days 3650 \
    -subj "/CN=Lantern MQTT broker" \
    -addext "subjectAltName=$san" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature" \
    -addext "extendedKeyUsage=serverAuth" \
    -keyout "$TLS_DIR/server.key.new" -out "$TLS_DIR/server.crt.new" 2>/dev/null
  mv "$TLS_DIR/server.key.new" "$TLS_DIR/server.key"
  chmod 644 "$TLS_DIR/server.crt.new"
  mv "$TLS_DIR/server.crt.new" "$TLS_DIR/server.crt"
  echo "mqtt-tls: generated a self-signed certificate for $san in $TLS_DIR/server.crt"
fi

mkdir -p "$RUN_DIR"
install -m 644 "$TLS_DIR/server.crt" "$RUN_DIR/server.crt"
install -m 600 "$TLS_DIR/server.key" "$RUN_DIR/server.key"
if [ "$(id -u)" = 0 ] && [ "$RUN_AS" != root ]; then chown -R "$RUN_AS:" "$RUN_DIR"; fi
chmod 700 "$RUN_DIR"
echo "mqtt-tls: devices connect to mqtts://<host>:8883; $(openssl x509 -noout -fingerprint -sha256 -in "$RUN_DIR/server.crt")"

sed "s|@MQTT_HOOK_SECRET@|${MQTT_HOOK_SECRET:?MQTT_HOOK_SECRET is required}|; s|@MQTT_TLS_RUN_DIR@|$RUN_DIR|g" "$TEMPLATE" >"$CONF"
exec "$MOSQUITTO" -c "$CONF"
