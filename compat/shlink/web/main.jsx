// A minimal host for Shlink's web component, doing what Shlink's web client
// does around it: a form to add a server (name, URL, API key) kept in
// localStorage, the server's version read from its health endpoint, and
// the component mounted under /server/<id>/ with the SDK's fetch client.
// The web client itself is not published on npm; the component it is
// built from is.
import { ShlinkApiClient } from '@shlinkio/shlink-js-sdk';
import { FetchHttpClient } from '@shlinkio/shlink-js-sdk/fetch';
import { Button, LabelledInput, Message, Result, SimpleCard } from '@shlinkio/shlink-frontend-kit';
import {
  ShlinkSidebarToggleButton,
  ShlinkSidebarVisibilityProvider,
  ShlinkWebComponent,
} from '@shlinkio/shlink-web-component';
import { useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Route, Routes, useNavigate, useParams } from 'react-router';

const STORAGE_KEY = 'kurz-compat.servers';

const loadServers = () => {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}');
  } catch {
    return {};
  }
};

const saveServer = (server) => {
  localStorage.setItem(STORAGE_KEY, JSON.stringify({ ...loadServers(), [server.id]: server }));
};

// The component wants a plain x.y.z version, as the web client passes it.
const toSemVer = (version) => /^\d+\.\d+\.\d+/.exec(version ?? '')?.[0] ?? '1.0.0';

function CreateServer() {
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [apiKey, setApiKey] = useState('');
  const onSubmit = (e) => {
    e.preventDefault();
    const id = crypto.randomUUID();
    saveServer({ id, name, url: url.replace(/\/+$/, ''), apiKey });
    navigate(`/server/${id}`);
  };
  return (
    <main className="container mx-auto max-w-2xl p-4">
      <SimpleCard title="Add new server">
        <form onSubmit={onSubmit} className="flex flex-col gap-4" data-testid="server-form">
          <LabelledInput label="Name" name="name" value={name} onChange={(e) => setName(e.target.value)} required />
          <LabelledInput label="URL" name="url" type="url" value={url} onChange={(e) => setUrl(e.target.value)} required />
          <LabelledInput label="API key" name="apiKey" value={apiKey} onChange={(e) => setApiKey(e.target.value)} required />
          <div className="flex justify-end">
            <Button type="submit" solid>Create server</Button>
          </div>
        </form>
      </SimpleCard>
    </main>
  );
}

function ServerSection() {
  const { serverId } = useParams();
  const server = useMemo(() => loadServers()[serverId], [serverId]);
  const apiClient = useMemo(
    () => server && new ShlinkApiClient(new FetchHttpClient(), { baseUrl: server.url, apiKey: server.apiKey }),
    [server],
  );
  const [state, setState] = useState({ status: 'loading' });

  useEffect(() => {
    if (!apiClient) return;
    apiClient.health()
      .then(({ version }) => setState({ status: 'ready', version: toSemVer(version) }))
      .catch((error) => setState({ status: 'unreachable', error: String(error?.detail ?? error?.message ?? error) }));
  }, [apiClient]);

  if (!server) {
    return <Result variant="error" className="m-4">Server not found</Result>;
  }
  if (state.status === 'loading') {
    return <Message loading className="m-4">Connecting to {server.name}...</Message>;
  }
  if (state.status === 'unreachable') {
    return (
      <Result variant="error" className="m-4" data-testid="server-unreachable">
        Oops! Could not connect to this Shlink server: {state.error}
      </Result>
    );
  }
  const routesPrefix = `/server/${server.id}`;
  return (
    <>
      <header className="h-(--header-height) bg-lm-brand dark:bg-dm-brand text-white flex items-center px-4 pl-14 fixed top-0 w-full z-900" data-testid="server-header">
        <span className="font-bold">{server.name}</span>
        <span className="ml-auto text-sm" data-testid="server-version">Shlink API v{state.version} at {server.url}</span>
      </header>
      <div className="pt-(--header-height)">
        <ShlinkSidebarVisibilityProvider>
          <ShlinkSidebarToggleButton className="fixed top-3.5 left-3 z-901" />
          <ShlinkWebComponent
            serverVersion={state.version}
            apiClient={apiClient}
            routesPrefix={routesPrefix}
            autoSidebarToggle={false}
          />
        </ShlinkSidebarVisibilityProvider>
      </div>
    </>
  );
}

function App() {
  return (
    <Routes>
      <Route path="/" element={<CreateServer />} />
      <Route path="/server/:serverId/*" element={<ServerSection />} />
      <Route path="*" element={<Result variant="warning" className="m-4">Page not found</Result>} />
    </Routes>
  );
}

createRoot(document.getElementById('root')).render(
  <BrowserRouter>
    <App />
  </BrowserRouter>,
);
