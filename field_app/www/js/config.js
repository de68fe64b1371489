// The server's settings for the app (/app/config.json): today the optional tile layer. Without an answer (offline,
// never fetched) the app draws its map from the data alone.

let loaded = null;

export function appConfig() {
  if (!loaded) {
    loaded = fetch("config.json", { credentials: "omit" })
      .then((response) => (response.ok ? response.json() : { tiles: null }))
      .catch(() => ({ tiles: null }));
  }
  return loaded;
}
