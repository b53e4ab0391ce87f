namespace QuickStart;

/// <summary>An agent the example started: its process, its folders and the ports it reported.</summary>
internal sealed record RunningAgent(string Name, string Role, string DataDir, string OutputDir, ChildProcess Process, AgentReady Ready);
