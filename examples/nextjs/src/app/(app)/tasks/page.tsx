import type { Metadata } from "next";
import { TaskList } from "./task-list";

export const metadata: Metadata = { title: "Tasks" };

export default function TasksPage() {
  return <TaskList />;
}
