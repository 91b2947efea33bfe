import { Link, Route, Routes } from 'react-router';
import { HomePage } from './pages/HomePage';
import { DumpPage } from './pages/DumpPage';
import { ThemeToggle } from './components/ThemeToggle';
import { TokenPrompt } from './components/TokenPrompt';

export function App() {
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand">
          PgDumpLens
        </Link>
        <div className="spacer" />
        <ThemeToggle />
      </header>
      <main className="content">
        <TokenPrompt />
        <Routes>
          <Route path="/" element={<HomePage />} />
          <Route path="/dumps/:id" element={<DumpPage />} />
          <Route path="*" element={<p className="error">There is no page here. <Link to="/">All dumps</Link></p>} />
        </Routes>
      </main>
    </div>
  );
}
