import { createContext, useContext } from 'react';
import type { Meta, User } from './api';

export interface Session {
  user: User;
  meta: Meta | null;
  /** signOut forgets the user and shows the login page with an optional notice key. */
  signOut: (notice?: 'login.loggedOut' | 'login.passwordChanged' | 'login.sessionExpired') => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in layout');
  return s;
}
