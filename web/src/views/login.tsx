// Log in with a cookie session; the answer carries the CSRF token for writes.

import { useState } from "preact/hooks";
import { ApiError, post, setCsrf, type User } from "../api";

export function Login({ onLogin }: { onLogin: (user: User) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");

  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const r = await post<{ user: User; csrf_token: string }>("/auth/login", { username, password });
      setCsrf(r.csrf_token);
      onLogin(r.user);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };

  return (
    <main class="login">
      <form onSubmit={submit}>
        <h1>LeanLife</h1>
        <label>Username <input name="username" autoFocus value={username}
          onInput={(e) => setUsername((e.target as HTMLInputElement).value)} /></label>
        <label>Password <input name="password" type="password" value={password}
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)} /></label>
        {error && <p class="error" role="alert">{error}</p>}
        <button class="primary" type="submit">Log in</button>
      </form>
    </main>
  );
}
